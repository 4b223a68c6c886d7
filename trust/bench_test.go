package trust

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/pki"
)

// BenchmarkNotarySteps times the ceremony's steps 4–6 (notary init with the
// root key in the token, snapshot key to the server, a delegation) for 10,
// 100 and 1,000 repositories against a local notary-server, and the same
// three operations done by the Debian notary CLI 0.7.0 (with a software root
// key: the CLI cannot reach a PKCS#11 token) in the same iteration, in one
// trust dir each. It reports both in ms per repository, their ratio
// cli/ceremony, and for each the last tenth of the repositories against the
// first: near 1 when a repository costs the same whatever came before.
func BenchmarkNotarySteps(b *testing.B) {
	srv := testenv.NotaryServerT(b)
	o := newOwner(b, srv, "docker.io/bench/seed")
	_, pubPEM := delegateKeys(b, "targets/me")
	dir := b.TempDir()
	pubFile := filepath.Join(dir, "me.pub")
	os.WriteFile(pubFile, pubPEM, 0o600)

	// The CLI's side: a software root key (encrypted file) and a config that
	// pins the ceremony CA for every bench repository by prefix.
	soft := testenv.SoftKey(b, keyspec.ECDSAP256).(*ecdsa.PrivateKey)
	softKey, err := utils.ECDSAToPrivateKey(soft)
	if err != nil {
		b.Fatal(err)
	}
	rootPEM, err := utils.ConvertPrivateKeyToPKCS8(softKey, data.CanonicalRootRole, "", "root-pass")
	if err != nil {
		b.Fatal(err)
	}
	rootFile := filepath.Join(dir, "root.key")
	os.WriteFile(rootFile, rootPEM, 0o600)
	cli := testenv.NotaryCLI(b, srv, o.caFile, "docker.io/bench/",
		"NOTARY_ROOT_PASSPHRASE=root-pass", "NOTARY_TARGETS_PASSPHRASE=t-pass", "NOTARY_SNAPSHOT_PASSPHRASE=s-pass")

	ctx := context.Background()
	iter := 0
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("repos=%d", n), func(b *testing.B) {
			var ours, theirs time.Duration
			var oursT, theirsT tenths
			for b.Loop() {
				iter++
				b.StopTimer()
				guns := make([]string, n)
				repoCerts := make([]string, n)
				certs := make(map[string]*x509.Certificate, n)
				for i := range guns {
					guns[i] = fmt.Sprintf("docker.io/bench/r%d-%d", iter, i)
					certs[guns[i]] = o.issueRepo(b, o.rootKey, guns[i])
					// The CLI's repository certificate: same CA, software root key.
					csr, err := pki.NewCSR(soft, guns[i]+"-cli")
					if err != nil {
						b.Fatal(err)
					}
					req, _ := pki.ParseCSR(csr)
					cliCert, err := pki.IssueRepo(ctx, o.ca, o.caKey, req, guns[i]+"-cli", pki.Request{Rand: o.sess.Rand(ctx)})
					if err != nil {
						b.Fatal(err)
					}
					repoCerts[i] = filepath.Join(dir, fmt.Sprintf("repo-%d-%d.pem", iter, i))
					os.WriteFile(repoCerts[i], pki.CertPEM(cliCert), 0o600)
				}
				b.StartTimer()

				start := time.Now()
				for i, g := range guns {
					one := time.Now()
					if _, err := o.client.Init(ctx, g, certs[g]); err != nil {
						b.Fatal(err)
					}
					if _, err := o.client.RotateSnapshotToServer(ctx, g); err != nil {
						b.Fatal(err)
					}
					if _, err := o.client.AddDelegation(ctx, g, []string{"targets/me"}, pubPEM, nil); err != nil {
						b.Fatal(err)
					}
					oursT.add(i, n, time.Since(one))
				}
				ours += time.Since(start)

				b.StopTimer() // ns/op is the ceremony's; the CLI's time is reported beside it
				start = time.Now()
				for i, g := range guns {
					one := time.Now()
					cg := g + "-cli"
					cli("init", cg, "--rootkey", rootFile, "--rootcert", repoCerts[i], "-p")
					cli("key", "rotate", cg, "snapshot", "-r")
					cli("delegation", "add", cg, "targets/me", pubFile, "--all-paths", "-p")
					theirsT.add(i, n, time.Since(one))
				}
				theirs += time.Since(start)
				b.StartTimer()
			}
			per := float64(b.N * n)
			b.ReportMetric(float64(ours.Milliseconds())/per, "ceremony-ms/repo")
			b.ReportMetric(float64(theirs.Milliseconds())/per, "notary-cli-ms/repo")
			b.ReportMetric(float64(theirs)/float64(ours), "cli/ceremony")
			b.ReportMetric(oursT.ratio(), "ceremony-last10/first10")
			b.ReportMetric(theirsT.ratio(), "cli-last10/first10")
		})
	}
}

// tenths sums the time of the first and the last tenth of n repositories.
type tenths struct{ first, last time.Duration }

func (t *tenths) add(i, n int, d time.Duration) {
	k := max(n/10, 1)
	if i < k {
		t.first += d
	}
	if i >= n-k {
		t.last += d
	}
}

func (t *tenths) ratio() float64 { return float64(t.last) / float64(t.first) }

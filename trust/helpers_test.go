package trust

import (
	"context"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/theupdateframework/notary/tuf/data"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/pki"
)

func TestMain(m *testing.M) {
	// Tests that make no Client would leave notary's logger on stderr.
	logrus.SetOutput(io.Discard)
	os.Exit(testenv.RunWithSoftHSM(m))
}

// Passphrases of the test key files. Tests only: real ones come from secret
// sources.
// testDelegatePass protects the test delegates' key files.
var testDelegatePass = []byte("delegation-passphrase-1")

var testPass = Passphrases{
	Targets:  []byte("targets-passphrase-1"),
	Snapshot: []byte("snapshot-passphrase-1"),
}

// owner is the ceremony side: a scratch token holding the CA and root keys
// (generated there, P-256), the CA and repository certificates issued by
// pki, and a client whose key store is the token's root key.
type owner struct {
	srv      *testenv.NotaryServer
	sess     *hsm.Session
	caKey    *hsm.Key
	ca       *x509.Certificate
	caFile   string
	rootKey  *hsm.Key
	repoCert *x509.Certificate
	store    *KeyStore
	cfg      Config
	client   *Client
}

func newOwner(t testing.TB, srv *testenv.NotaryServer, gun string) *owner {
	t.Helper()
	ctx := context.Background()
	tok := testenv.NewToken(t)
	o := &owner{srv: srv, sess: tok.Session(t)}
	var err error
	if o.caKey, err = o.sess.GenerateKey(ctx, hsm.KeySpec{Label: "ca", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	if o.ca, err = pki.IssueCA(ctx, o.caKey, pki.Request{Rand: o.sess.Rand(ctx)}); err != nil {
		t.Fatal(err)
	}
	o.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(o.caFile, pki.CertPEM(o.ca), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.rootKey, err = o.sess.GenerateKey(ctx, hsm.KeySpec{Label: "root", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	o.repoCert = o.issueRepo(t, o.rootKey, gun)
	if o.store, err = NewKeyStore(ctx, o.sess, nil, KeyRef{Key: hsm.KeySelector{Label: "root"}, Role: data.CanonicalRootRole}); err != nil {
		t.Fatal(err)
	}
	o.cfg = Config{URL: srv.URL, TLSCA: srv.CAFile, TrustDir: filepath.Join(t.TempDir(), "trust"), PinCA: o.caFile, Passphrases: testPass, Token: o.store}
	o.client = newClient(t, o.cfg)
	return o
}

// issueRepo is the seed's step 3: a CSR CN=<gun> signed by the token key,
// and the CA's repository certificate over it.
func (o *owner) issueRepo(t testing.TB, key *hsm.Key, gun string) *x509.Certificate {
	t.Helper()
	ctx := context.Background()
	der, err := pki.NewCSR(key, gun)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.IssueRepo(ctx, o.ca, o.caKey, csr, gun, pki.Request{Rand: o.sess.Rand(ctx)})
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	if os.Getenv("TRUST_TEST_NOTARY_LOG") != "" {
		SetNotaryLog(os.Stderr, true)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// delegateKeys is what `docker trust key generate` leaves a delegate, under
// testDelegatePass: an encrypted PKCS#8 private key and the PUBLIC KEY PEM
// handed to the owner.
func delegateKeys(t testing.TB, role string) (privPEM, pubPEM []byte) {
	t.Helper()
	privPEM, pubPEM, err := GenerateDelegateKey(role, testDelegatePass)
	if err != nil {
		t.Fatal(err)
	}
	return privPEM, pubPEM
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

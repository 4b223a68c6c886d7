// Notary's own checks of root certificates, run with notary v0.7.0's code.

package pki

import (
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/theupdateframework/notary/trustpinning"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"
)

func TestNotaryAcceptsChain(t *testing.T) {
	for _, tc := range []struct{ ca, root keyspec.Type }{{keyspec.ECDSAP256, keyspec.ECDSAP256}, {keyspec.ECDSAP384, keyspec.RSA2048}, {keyspec.RSA3072, keyspec.ECDSAP384}} {
		t.Run(string(tc.ca)+"/"+string(tc.root), func(t *testing.T) {
			c := issueChain(t, testenv.SoftKey(t, tc.ca), testenv.SoftKey(t, tc.root), testNow)
			for name, cert := range map[string]*x509.Certificate{"CA": c.ca, "repo": c.repo, "root": c.root} {
				if err := utils.ValidateCertificate(cert, true); err != nil {
					t.Errorf("%s: ValidateCertificate: %v", name, err)
				}
			}
			// notary init --rootcert reads the PEM file; the repo cert must be its leaf
			certs, err := utils.LoadCertBundleFromPEM(CertPEM(c.repo))
			if err != nil || len(utils.GetLeafCerts(certs)) != 1 {
				t.Fatalf("repo PEM as a notary bundle: %v", err)
			}
			if !trustpinning.MatchCNToGun(c.repo.Subject.CommonName, data.GUN(testGUN)) {
				t.Error("CN does not match the GUN")
			}
			// the repo and root certificates carry the same notary root key
			repoID, err1 := utils.CanonicalKeyID(utils.CertToKey(c.repo))
			rootID, err2 := utils.CanonicalKeyID(utils.CertToKey(c.root))
			if err1 != nil || err2 != nil || repoID != rootID {
				t.Errorf("canonical key IDs %s %s (%v %v)", repoID, rootID, err1, err2)
			}
			// CA pinning exactly as a client configured like the seed does it
			caFile := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(caFile, CertPEM(c.ca), 0o600); err != nil {
				t.Fatal(err)
			}
			check, err := trustpinning.NewTrustPinChecker(trustpinning.TrustPinConfig{
				CA: map[string]string{testGUN: caFile}, DisableTOFU: true,
			}, data.GUN(testGUN), true)
			if err != nil {
				t.Fatal(err)
			}
			if !check(c.repo, nil) {
				t.Error("notary's CA pinning rejects the repository certificate")
			}
			if check(c.root, nil) {
				t.Error("notary's CA pinning accepts the self-signed root certificate")
			}
			// and it bites: the same leaf with notary's own codeSigning EKU fails
			tmpl := *c.repo
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
			tmpl.ExtraExtensions, tmpl.Extensions = nil, nil
			der, err := x509.CreateCertificate(rand.Reader, &tmpl, c.ca, c.repo.PublicKey, c.caKey)
			if err != nil {
				t.Fatal(err)
			}
			leaf, _ := x509.ParseCertificate(der)
			if check(leaf, nil) {
				t.Error("notary's CA pinning accepts a codeSigning-only leaf")
			}
		})
	}
}

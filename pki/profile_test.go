package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
)

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidSKI              = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidAKI              = asn1.ObjectIdentifier{2, 5, 29, 35}
)

// wantExt is one extension of a profile: OID and criticality.
type wantExt struct {
	oid      asn1.ObjectIdentifier
	critical bool
}

// every profile has exactly these four extensions, and no EKU among them
var profileExts = []wantExt{
	{oidBasicConstraints, true}, {oidKeyUsage, true}, {oidSKI, false}, {oidAKI, false},
}

func wantSigAlg(pub crypto.PublicKey) x509.SignatureAlgorithm {
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		switch k.Curve {
		case elliptic.P384():
			return x509.ECDSAWithSHA384
		case elliptic.P521():
			return x509.ECDSAWithSHA512
		}
		return x509.ECDSAWithSHA256
	}
	return x509.SHA256WithRSA
}

// checkCommon asserts what all three profiles share.
func checkCommon(t *testing.T, c *x509.Certificate, days int, issuerKey, subjectKey crypto.PublicKey) {
	t.Helper()
	if c.Version != 3 {
		t.Errorf("version %d, want 3", c.Version)
	}
	if len(c.Extensions) != len(profileExts) {
		t.Errorf("%d extensions, want %d", len(c.Extensions), len(profileExts))
	}
	for _, w := range profileExts {
		i := slices.IndexFunc(c.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(w.oid) })
		if i < 0 {
			t.Errorf("extension %v missing", w.oid)
		} else if c.Extensions[i].Critical != w.critical {
			t.Errorf("extension %v critical=%v, want %v", w.oid, c.Extensions[i].Critical, w.critical)
		}
	}
	if len(c.ExtKeyUsage) != 0 || len(c.UnknownExtKeyUsage) != 0 {
		t.Errorf("EKU present: %v %v", c.ExtKeyUsage, c.UnknownExtKeyUsage)
	}
	if got := c.NotAfter.Sub(c.NotBefore); got != time.Duration(days)*24*time.Hour {
		t.Errorf("validity %v, want %d days", got, days)
	}
	if !c.NotBefore.Equal(testNow) {
		t.Errorf("notBefore %v, want %v", c.NotBefore, testNow)
	}
	if got, want := c.SignatureAlgorithm, wantSigAlg(issuerKey); got != want {
		t.Errorf("signature algorithm %v, want %v", got, want)
	}
	if s := c.SerialNumber.Bytes(); len(s) != 17 || s[0] != 0x01 {
		t.Errorf("serial %x: want 0x01 and 16 random bytes", s)
	}
	ski, _ := subjectKeyID(subjectKey)
	if !bytes.Equal(c.SubjectKeyId, ski) || len(ski) != 20 {
		t.Errorf("SKI %x, want %x", c.SubjectKeyId, ski)
	}
	if !keyspec.SamePublic(c.PublicKey, subjectKey) {
		t.Error("certificate public key is not the subject's")
	}
	// what notary's utils.ValidateCertificate(c, true) checks
	if strings.Contains(strings.ToLower(c.SignatureAlgorithm.String()), "sha1") {
		t.Errorf("SHA-1 signature %v", c.SignatureAlgorithm)
	}
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		t.Errorf("RSA key of %d bits", k.N.BitLen())
	}
	if now := time.Now(); c.NotBefore.After(now.AddDate(0, 0, 1)) || now.After(c.NotAfter) {
		t.Errorf("not valid now: %v..%v", c.NotBefore, c.NotAfter)
	}
}

func TestProfiles(t *testing.T) {
	for _, tc := range []struct{ ca, root keyspec.Type }{
		{keyspec.ECDSAP256, keyspec.ECDSAP256},
		{keyspec.ECDSAP384, keyspec.RSA2048},
		{keyspec.RSA2048, keyspec.ECDSAP384},
		{keyspec.RSA3072, keyspec.RSA3072},
	} {
		t.Run("CA "+string(tc.ca)+" root "+string(tc.root), func(t *testing.T) {
			t.Parallel()
			c := issueChain(t, testenv.SoftKey(t, tc.ca), testenv.SoftKey(t, tc.root), testNow)

			t.Run("CA", func(t *testing.T) {
				ca := c.ca
				checkCommon(t, ca, DefaultCADays, c.caKey.Public(), c.caKey.Public())
				if ca.Subject.String() != "CN=Docker Notary CA" || !bytes.Equal(ca.RawIssuer, ca.RawSubject) {
					t.Errorf("subject %q issuer %q", ca.Subject, ca.Issuer)
				}
				if !ca.BasicConstraintsValid || !ca.IsCA || ca.MaxPathLen > 0 {
					t.Errorf("basic constraints valid=%v CA=%v pathlen=%d", ca.BasicConstraintsValid, ca.IsCA, ca.MaxPathLen)
				}
				if ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
					t.Errorf("key usage %b", ca.KeyUsage)
				}
				if !bytes.Equal(ca.AuthorityKeyId, ca.SubjectKeyId) {
					t.Error("AKI != SKI on the self-signed CA")
				}
				if err := ca.CheckSignatureFrom(ca); err != nil {
					t.Error(err)
				}
			})
			t.Run("root", func(t *testing.T) {
				root := c.root
				checkCommon(t, root, DefaultRootDays, c.rootKey.Public(), c.rootKey.Public())
				if root.Subject.String() != "CN=root" || !bytes.Equal(root.RawSubject, c.rootCSR.RawSubject) || !bytes.Equal(root.RawIssuer, root.RawSubject) {
					t.Errorf("subject %q issuer %q", root.Subject, root.Issuer)
				}
				if !root.BasicConstraintsValid || root.IsCA || root.KeyUsage != x509.KeyUsageDigitalSignature {
					t.Errorf("CA=%v key usage %b", root.IsCA, root.KeyUsage)
				}
				if !bytes.Equal(root.AuthorityKeyId, root.SubjectKeyId) {
					t.Error("AKI != SKI on the self-signed root")
				}
				if err := root.CheckSignature(root.SignatureAlgorithm, root.RawTBSCertificate, root.Signature); err != nil {
					t.Error(err)
				}
			})
			t.Run("repo", func(t *testing.T) {
				repo := c.repo
				checkCommon(t, repo, DefaultRepoDays, c.caKey.Public(), c.repoCSR.PublicKey)
				if repo.Subject.CommonName != testGUN || repo.Subject.String() != "CN="+testGUN {
					t.Errorf("subject %q, want exactly CN=%s", repo.Subject, testGUN)
				}
				if !bytes.Equal(repo.RawIssuer, c.ca.RawSubject) {
					t.Errorf("issuer %q, want %q", repo.Issuer, c.ca.Subject)
				}
				if !repo.BasicConstraintsValid || repo.IsCA || repo.KeyUsage != x509.KeyUsageDigitalSignature {
					t.Errorf("CA=%v key usage %b", repo.IsCA, repo.KeyUsage)
				}
				if !bytes.Equal(repo.AuthorityKeyId, c.ca.SubjectKeyId) {
					t.Errorf("AKI %x, want the CA's SKI %x", repo.AuthorityKeyId, c.ca.SubjectKeyId)
				}
				if !keyspec.SamePublic(repo.PublicKey, c.rootCSR.PublicKey) {
					t.Error("repository certificate key is not the root CSR's key")
				}
				if err := repo.CheckSignatureFrom(c.ca); err != nil {
					t.Error(err)
				}
				// notary's CA pinning: default VerifyOptions, roots = the CA
				pool := x509.NewCertPool()
				pool.AddCert(c.ca)
				if _, err := repo.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
					t.Errorf("notary CA pinning verify: %v", err)
				}
			})
			t.Run("openssl", func(t *testing.T) { checkOpenSSL(t, c) })
		})
	}
}

// checkOpenSSL has openssl, an independent implementation, read the chain.
func checkOpenSSL(t *testing.T, c chain) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caPEM := write("ca.pem", CertPEM(c.ca))
	repoPEM := write("repo.pem", CertPEM(c.repo))
	rootPEM := write("root.crt", CertPEM(c.root))
	csrPEM := write("root.csr", CSRPEM(c.rootCSR.Raw))

	if out := testenv.OpenSSL(t, "verify", "-CAfile", caPEM, repoPEM); !strings.Contains(out, repoPEM+": OK") {
		t.Errorf("openssl verify: %s", out)
	}
	if out := testenv.OpenSSL(t, "req", "-verify", "-noout", "-in", csrPEM); !strings.Contains(out, "verify OK") {
		t.Errorf("openssl req -verify: %s", out)
	}
	caText := testenv.OpenSSL(t, "x509", "-text", "-noout", "-in", caPEM)
	for _, want := range []string{"Basic Constraints: critical", "CA:TRUE", "Key Usage: critical", "Certificate Sign, CRL Sign", "Subject Key Identifier", "Authority Key Identifier"} {
		if !strings.Contains(caText, want) {
			t.Errorf("CA text lacks %q:\n%s", want, caText)
		}
	}
	repoText := testenv.OpenSSL(t, "x509", "-text", "-noout", "-in", repoPEM)
	for _, want := range []string{"Subject: CN = " + testGUN, "CA:FALSE", "Key Usage: critical", "Digital Signature"} {
		if !strings.Contains(repoText, want) {
			t.Errorf("repo text lacks %q:\n%s", want, repoText)
		}
	}
	rootText := testenv.OpenSSL(t, "x509", "-text", "-noout", "-in", rootPEM)
	if !strings.Contains(rootText, "Subject: CN = root") || !strings.Contains(rootText, "Issuer: CN = root") {
		t.Errorf("root text:\n%s", rootText)
	}
	for name, text := range map[string]string{"CA": caText, "repo": repoText, "root": rootText} {
		if strings.Contains(text, "Extended Key Usage") {
			t.Errorf("%s certificate has an Extended Key Usage:\n%s", name, text)
		}
		if strings.Contains(strings.ToLower(text), "sha1") {
			t.Errorf("%s certificate mentions SHA-1:\n%s", name, text)
		}
	}
}

// A repository certificate with a codeSigning EKU (what notary's own
// certificates carry) fails the check notary's CA pinning makes: the reason
// the repository profile has no EKU.
func TestCAPinningRejectsCodeSigningEKU(t *testing.T) {
	caKey, rootKey := testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP256)
	ca, err := IssueCA(context.Background(), caKey, req(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		eku  []x509.ExtKeyUsage
		ok   bool
	}{
		{"no EKU", nil, true},
		{"codeSigning", []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, false},
		{"codeSigning+serverAuth", []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageServerAuth}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
				SerialNumber: ca.SerialNumber, Subject: pkix.Name{CommonName: testGUN},
				NotBefore: testNow, NotAfter: testNow.AddDate(0, 0, 375),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: tc.eku, BasicConstraintsValid: true,
			}, ca, rootKey.Public(), caKey)
			if err != nil {
				t.Fatal(err)
			}
			leaf, _ := x509.ParseCertificate(der)
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			_, verr := leaf.Verify(x509.VerifyOptions{Roots: pool}) // notary's exact call
			perr := VerifyCAPinning(leaf, ca)
			if (verr == nil) != tc.ok || (perr == nil) != tc.ok {
				t.Fatalf("Verify: %v, VerifyCAPinning: %v; want ok=%v", verr, perr, tc.ok)
			}
			if !tc.ok && !strings.Contains(perr.Error(), "incompatible key usage") {
				t.Errorf("error %q does not name the key usage", perr)
			}
		})
	}
}

// The serial comes from Request.Rand, and only from it.
func TestSerialFromRequestRand(t *testing.T) {
	random := bytes.Repeat([]byte{0xab}, 16)
	r := req(0)
	r.Rand = bytes.NewReader(random)
	ca, err := IssueCA(context.Background(), testenv.SoftKey(t, keyspec.ECDSAP256), r)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte{0x01}, random...); !bytes.Equal(ca.SerialNumber.Bytes(), want) {
		t.Errorf("serial %x, want %x", ca.SerialNumber.Bytes(), want)
	}
	r.Rand = bytes.NewReader(random[:8]) // a token RNG that comes up short
	if _, err := IssueCA(context.Background(), testenv.SoftKey(t, keyspec.ECDSAP256), r); err == nil || !strings.Contains(err.Error(), "serial") {
		t.Errorf("short random source: err %v", err)
	}
}

func TestCASubjectFromRequest(t *testing.T) {
	subject, err := ParseSubject("CN=Acme Notary CA,O=Acme,C=DE")
	if err != nil {
		t.Fatal(err)
	}
	r := req(3650)
	r.Subject = subject
	ca, err := IssueCA(context.Background(), testenv.SoftKey(t, keyspec.ECDSAP256), r)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.Subject.String(); got != "CN=Acme Notary CA,O=Acme,C=DE" {
		t.Errorf("subject %q", got)
	}
	if d := ca.NotAfter.Sub(ca.NotBefore); d != 3650*24*time.Hour {
		t.Errorf("validity %v", d)
	}
}

// The BR lints that are left out would reject every notary certificate;
// the profiles also stay clean on dates when new BR rules start to apply.
func TestLintAcrossDates(t *testing.T) {
	for _, now := range []time.Time{
		time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2029, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		t.Run(now.Format("2006-01-02"), func(t *testing.T) {
			t.Parallel()
			issueChain(t, testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP256), now)
		})
	}
}

func TestPEMRoundTrip(t *testing.T) {
	c := issueChain(t, testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP256), testNow)
	got, err := ParseCertPEM(CertPEM(c.repo))
	if err != nil || !got.Equal(c.repo) {
		t.Fatalf("cert: %v", err)
	}
	csr, err := ParseCSRPEM(CSRPEM(c.repoCSR.Raw))
	if err != nil || !bytes.Equal(csr.Raw, c.repoCSR.Raw) {
		t.Fatalf("csr: %v", err)
	}
	for name, b := range map[string][]byte{
		"two certs":    append(CertPEM(c.repo), CertPEM(c.ca)...),
		"CSR for cert": CSRPEM(c.repoCSR.Raw),
		"empty":        nil,
	} {
		if _, err := ParseCertPEM(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

const testGUN = "docker.io/alice/nginx"

// testNow pins notBefore so validity assertions are exact.
var testNow = time.Now().UTC().Truncate(time.Second)

// countingSigner counts Sign calls: the lint-first path must not reach the
// real signer when the lint fails.
type countingSigner struct {
	crypto.Signer
	n atomic.Int32
}

func (s *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(r, d, o)
}

// garbageSigner claims a key and returns junk signatures.
type garbageSigner struct{ pub crypto.PublicKey }

func (g garbageSigner) Public() crypto.PublicKey { return g.pub }
func (g garbageSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	b := make([]byte, 72)
	_, _ = rand.Read(b)
	return b, nil
}

// liarSigner claims one key and signs, validly, with another.
type liarSigner struct {
	pub crypto.PublicKey
	crypto.Signer
}

func (l liarSigner) Public() crypto.PublicKey { return l.pub }

func req(days int) Request {
	return Request{Days: days, Now: testNow, Rand: rand.Reader}
}

func csrFor(t testing.TB, signer crypto.Signer, cn string) *x509.CertificateRequest {
	t.Helper()
	der, err := NewCSR(signer, cn)
	return parsedCSR(t, der, err)
}

// rawCSR makes a CSR with x509 directly, for keys NewCSR refuses to sign with.
func rawCSR(t testing.TB, key crypto.Signer, cn string) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	return parsedCSR(t, der, err)
}

// parsedCSR is ParseCSR of what a CSR maker returned; any error fails t.
func parsedCSR(t testing.TB, der []byte, err error) *x509.CertificateRequest {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

type chain struct {
	caKey, rootKey   crypto.Signer
	ca, root, repo   *x509.Certificate
	rootCSR, repoCSR *x509.CertificateRequest
}

// issueChain runs the ceremony's three issuances with the given keys.
func issueChain(t testing.TB, caKey, rootKey crypto.Signer, now time.Time) chain {
	t.Helper()
	ctx := context.Background()
	c := chain{caKey: caKey, rootKey: rootKey}
	r := Request{Now: now, Rand: rand.Reader}
	var err error
	if c.ca, err = IssueCA(ctx, caKey, r); err != nil {
		t.Fatal(err)
	}
	c.rootCSR = csrFor(t, rootKey, RootCommonName)
	if c.root, err = IssueRoot(ctx, rootKey, c.rootCSR, r); err != nil {
		t.Fatal(err)
	}
	c.repoCSR = csrFor(t, rootKey, testGUN)
	if c.repo, err = IssueRepo(ctx, c.ca, caKey, c.repoCSR, testGUN, r); err != nil {
		t.Fatal(err)
	}
	return c
}

package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

const testGUN = "docker.io/alice/nginx"

// testNow pins notBefore so validity assertions are exact.
var testNow = time.Now().UTC().Truncate(time.Second)

// keyGen makes a software key of one of the supported kinds.
type keyGen struct {
	name string
	gen  func() (crypto.Signer, error)
}

var (
	p256    = keyGen{"P-256", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }}
	p384    = keyGen{"P-384", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) }}
	rsa2048 = keyGen{"RSA-2048", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }}
	rsa3072 = keyGen{"RSA-3072", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 3072) }}
)

func newKey(t testing.TB, g keyGen) crypto.Signer {
	t.Helper()
	k, err := g.gen()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

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

// Package pki issues the X.509 certificates of a Docker Content Trust (Notary)
// root key ceremony through a crypto.Signer. In production the signer is a
// non-extractable key in a PKCS#11 token; this package knows nothing about
// PKCS#11.
//
// The three profiles follow the seed procedure:
//
//   - CA: self-signed, subject from the configuration (default
//     "CN=Docker Notary CA"), 7300 days, basicConstraints CA:TRUE and
//     keyUsage keyCertSign+cRLSign (both critical), SKI, AKI, no EKU.
//   - Root: the token root key's self-signed certificate CN=root, 365 days,
//     what `openssl x509 -req -signkey` makes of the root CSR.
//   - Repository: CN=<GUN> over the root key, issued by the CA, 375 days,
//     CA:FALSE, keyUsage digitalSignature, and no extendedKeyUsage: notary's
//     CA pinning verifies it with Go's default x509.VerifyOptions, which
//     demands serverAuth of any certificate carrying an EKU, so codeSigning
//     would make the first publish fail.
//
// Every certificate is issued the careful way (after Let's Encrypt boulder's
// ceremony tool): the template is first signed by a throwaway key and linted
// with zlint; only a clean lint reaches the real signer; the real certificate
// must verify, must have byte-for-byte the linted TBSCertificate, and is linted
// again.
package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/trust/names"
)

// Profile defaults and limits.
const (
	DefaultCADays   = 7300 // seed: openssl req -x509 -days 7300
	DefaultRootDays = 365  // seed: openssl x509 -req -days 365
	DefaultRepoDays = 375  // seed: openssl ca -days 375
	// DefaultTranscriptDays: the transcript certificate only has to be valid
	// while the ceremony signs; auditors check signatures at the recorded time.
	DefaultTranscriptDays = 3650
	// MaxDays caps every profile at 25 years, boulder's cap for roots: a
	// longer lifetime is a typo, not a plan.
	MaxDays = 9132

	DefaultCASubject = "CN=Docker Notary CA"
	// RootCommonName is the subject the seed requires of the root key's
	// certificate ("CN=root conveys to Notary that it is the root key").
	RootCommonName = "root"
	// TrainingOrganization is the O every certificate of a training
	// ceremony carries (Request.Training), so that a rehearsal's output is
	// never mistaken for a real ceremony's.
	TrainingOrganization = "TRAINING - NOT FOR PRODUCTION"
)

// Request holds what every Issue function needs besides keys and CSRs.
type Request struct {
	// Subject of the CA certificate; zero means DefaultCASubject. Only
	// IssueCA reads it: the root and repository subjects are fixed by
	// their profiles, so setting it there is an error.
	Subject pkix.Name
	// Days of validity; 0 means the profile default.
	Days int
	// Now is the notBefore; zero means time.Now(). Tests and rehearsals
	// pin it.
	Now time.Time
	// Rand supplies the serial number: in production the token's random
	// number generator. Required: the host's RNG is never used implicitly.
	Rand io.Reader
	// Training marks a rehearsal's certificate: every profile adds
	// O=TRAINING - NOT FOR PRODUCTION to its subject and keeps its CN (the
	// root's "root", a repository's GUN, which is all notary checks).
	Training bool
}

// mark adds the training organization to a subject when req asks for it.
// A CA subject that names another organization is refused rather than
// silently changed.
func (r Request) mark(n pkix.Name) (pkix.Name, error) {
	if !r.Training {
		return n, nil
	}
	if len(n.Organization) > 0 && (len(n.Organization) > 1 || n.Organization[0] != TrainingOrganization) {
		return n, fmt.Errorf("a training certificate's organization is %q, the subject names %q", TrainingOrganization, n.Organization)
	}
	n.Organization = []string{TrainingOrganization}
	return n, nil
}

// validity returns notBefore and notAfter like openssl's -days: notAfter is
// exactly days*24h after notBefore.
func (r Request) validity(defaultDays int) (time.Time, time.Time, error) {
	days := r.Days
	if days == 0 {
		days = defaultDays
	}
	if days < 1 || days > MaxDays {
		return time.Time{}, time.Time{}, fmt.Errorf("validity of %d days is out of range 1..%d", days, MaxDays)
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	nb := now.UTC().Truncate(time.Second)
	return nb, nb.AddDate(0, 0, days), nil
}

// IssueCA makes the self-signed CA certificate over signer's key.
func IssueCA(ctx context.Context, signer crypto.Signer, req Request) (*x509.Certificate, error) {
	cert, err := issueCA(ctx, signer, req)
	if err != nil {
		return nil, fmt.Errorf("issue CA certificate: %w", err)
	}
	return cert, nil
}

func issueCA(ctx context.Context, signer crypto.Signer, req Request) (*x509.Certificate, error) {
	subject := req.Subject
	if len(subject.ToRDNSequence()) == 0 {
		var err error
		if subject, err = ParseSubject(DefaultCASubject); err != nil {
			return nil, err
		}
	}
	tmpl, err := baseTemplate(req, DefaultCADays, signer.Public(), signer.Public())
	if err != nil {
		return nil, err
	}
	if tmpl.Subject, err = req.mark(subject); err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId // self-signed: its own key
	return issue(ctx, tmpl, nil, signer.Public(), signer)
}

// IssueRoot makes the self-signed certificate of the token root key, from the
// root CSR (subject CN=root) that key signed. signer must hold the CSR's key.
func IssueRoot(ctx context.Context, signer crypto.Signer, csr *x509.CertificateRequest, req Request) (*x509.Certificate, error) {
	cert, err := issueRoot(ctx, signer, csr, req)
	if err != nil {
		return nil, fmt.Errorf("issue root certificate: %w", err)
	}
	return cert, nil
}

func issueRoot(ctx context.Context, signer crypto.Signer, csr *x509.CertificateRequest, req Request) (*x509.Certificate, error) {
	if err := checkCSR(csr, RootCommonName, req); err != nil {
		return nil, err
	}
	if !keyspec.SamePublic(csr.PublicKey, signer.Public()) {
		return nil, errors.New("the CSR's public key is not the signer's: a root certificate is self-signed by the key it certifies")
	}
	tmpl, err := baseTemplate(req, DefaultRootDays, csr.PublicKey, signer.Public())
	if err != nil {
		return nil, err
	}
	tmpl.RawSubject = csr.RawSubject // like openssl x509 -req: the CSR's subject, byte for byte
	if req.Training {
		// The CSR stays CN=root; the certificate carries the mark too.
		tmpl.RawSubject = nil
		if tmpl.Subject, err = req.mark(csr.Subject); err != nil {
			return nil, err
		}
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.AuthorityKeyId = tmpl.SubjectKeyId
	return issue(ctx, tmpl, nil, csr.PublicKey, signer)
}

// IssueRepo makes the repository certificate CN=<gun> over the CSR's key (the
// root key), issued by the CA certificate ca whose private key is caSigner.
func IssueRepo(ctx context.Context, ca *x509.Certificate, caSigner crypto.Signer, csr *x509.CertificateRequest, gun string, req Request) (*x509.Certificate, error) {
	cert, err := issueRepo(ctx, ca, caSigner, csr, gun, req)
	if err != nil {
		return nil, fmt.Errorf("issue repository certificate for %q: %w", gun, err)
	}
	return cert, nil
}

func issueRepo(ctx context.Context, ca *x509.Certificate, caSigner crypto.Signer, csr *x509.CertificateRequest, gun string, req Request) (*x509.Certificate, error) {
	if err := names.CheckGUN(gun); err != nil {
		return nil, err
	}
	return issueLeaf(ctx, ca, caSigner, csr, gun, DefaultRepoDays, false, req)
}

// issueLeaf makes a CA-issued signing leaf CN=cn over the CSR's key:
// CA:FALSE, digitalSignature, no extended key usage, and no longer-lived
// than its CA: a longer validity is refused, or, with capped, cut to the
// CA's (the transcript certificate's default follows the CA's). It must
// pass notary's CA pinning check.
func issueLeaf(ctx context.Context, ca *x509.Certificate, caSigner crypto.Signer, csr *x509.CertificateRequest, cn string, defaultDays int, capped bool, req Request) (*x509.Certificate, error) {
	if err := checkCSR(csr, cn, req); err != nil {
		return nil, err
	}
	if ca == nil || !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 || len(ca.SubjectKeyId) == 0 {
		return nil, errors.New("the issuer is not a CA certificate (CA:TRUE, keyCertSign, subject key identifier)")
	}
	if !keyspec.SamePublic(ca.PublicKey, caSigner.Public()) {
		return nil, errors.New("the CA signer's public key is not the CA certificate's")
	}
	tmpl, err := baseTemplate(req, defaultDays, csr.PublicKey, caSigner.Public())
	if err != nil {
		return nil, err
	}
	// Notary clients reject the leaf once its CA has expired.
	if capped && tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	if tmpl.NotAfter.After(ca.NotAfter) {
		return nil, fmt.Errorf("it would outlive the CA certificate, which expires %s; issue it for fewer days", ca.NotAfter.Format(time.DateOnly))
	}
	// Only the CN: for a repository the GUN is the whole identity notary
	// checks (CN == GUN).
	if tmpl.Subject, err = req.mark(pkix.Name{CommonName: cn}); err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.AuthorityKeyId = ca.SubjectKeyId
	cert, err := issue(ctx, tmpl, ca, csr.PublicKey, caSigner)
	if err != nil {
		return nil, err
	}
	if err := VerifyCAPinning(cert, ca); err != nil {
		return nil, err
	}
	return cert, nil
}

// TranscriptCommonName is the subject of the transcript signer's
// certificate: the key that signs every line of the ceremony's transcript.
const TranscriptCommonName = "Ceremony transcript signer"

// IssueTranscript makes the transcript signer's certificate, CN=Ceremony
// transcript signer over the CSR's key, issued by the CA certificate ca
// whose private key is caSigner. It is a plain signing leaf (CA:FALSE,
// digitalSignature, no EKU): an auditor chains it to the CA, the one trust
// anchor of the transcript.
func IssueTranscript(ctx context.Context, ca *x509.Certificate, caSigner crypto.Signer, csr *x509.CertificateRequest, req Request) (*x509.Certificate, error) {
	cert, err := issueLeaf(ctx, ca, caSigner, csr, TranscriptCommonName, DefaultTranscriptDays, true, req)
	if err != nil {
		return nil, fmt.Errorf("issue transcript certificate: %w", err)
	}
	return cert, nil
}

// VerifyCAPinning checks leaf against ca the way notary's CA trust pinning
// does (trustpinning/trustpin.go, caCheck): leaf.Verify with only Roots set,
// so Go demands serverAuth of every EKU along the chain. It verifies at the
// leaf's notBefore, since notary checks expiry on its own
// (utils.ValidateCertificate) and an audit may run years later.
func VerifyCAPinning(leaf, ca *x509.Certificate) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: leaf.NotBefore}); err != nil {
		return fmt.Errorf("notary CA pinning would reject the certificate: %w", err)
	}
	return nil
}

// checkCSR re-checks a CSR's signature (it may not come from ParseCSR), its
// common name, and that req carries no subject the profile would ignore.
func checkCSR(csr *x509.CertificateRequest, cn string, req Request) error {
	if csr == nil {
		return errors.New("no CSR")
	}
	if err := csr.CheckSignature(); err != nil {
		return fmt.Errorf("CSR signature: %w", err)
	}
	if csr.Subject.CommonName != cn {
		return fmt.Errorf("CSR subject CN is %q, want %q", csr.Subject.CommonName, cn)
	}
	if len(req.Subject.ToRDNSequence()) != 0 {
		return errors.New("Request.Subject is only for the CA: this profile's subject comes from the CSR")
	}
	return nil
}

// NewCSR makes a CSR with subject CN=commonName signed by signer (the seed's
// `ucl csr`), and checks its signature before returning it.
func NewCSR(signer crypto.Signer, commonName string) ([]byte, error) {
	alg, err := signatureAlgorithm(signer.Public())
	if err != nil {
		return nil, fmt.Errorf("CSR for %q: %w", commonName, err)
	}
	der, err := x509.CreateCertificateRequest(failReader{}, &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: commonName},
		SignatureAlgorithm: alg,
	}, signer)
	if err != nil {
		return nil, fmt.Errorf("CSR for %q: %w", commonName, err)
	}
	csr, err := ParseCSR(der)
	if err != nil {
		return nil, fmt.Errorf("CSR for %q: %w", commonName, err)
	}
	if !keyspec.SamePublic(csr.PublicKey, signer.Public()) {
		return nil, fmt.Errorf("CSR for %q: public key is not the signer's", commonName)
	}
	return der, nil
}

// ParseCSR parses a DER CSR and checks its self-signature.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("CSR signature: %w", err)
	}
	return csr, nil
}

// PEM block types.
const (
	pemCert = "CERTIFICATE"
	pemCSR  = "CERTIFICATE REQUEST"
)

// CertPEM encodes a certificate as one PEM block.
func CertPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCert, Bytes: cert.Raw})
}

// CSRPEM encodes a DER CSR as one PEM block.
func CSRPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCSR, Bytes: der})
}

// ParseCertPEM parses a file holding exactly one PEM certificate, as this
// package writes them.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	der, err := onePEM(b, pemCert)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// ParseCSRPEM parses a file holding exactly one PEM CSR and checks its
// signature.
func ParseCSRPEM(b []byte) (*x509.CertificateRequest, error) {
	der, err := onePEM(b, pemCSR)
	if err != nil {
		return nil, err
	}
	return ParseCSR(der)
}

// ParsePublicKeyPEM reads a public key from one PEM block: a PUBLIC KEY, or
// a CERTIFICATE whose key it takes (a witness brings either).
func ParsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(b)
	switch {
	case block == nil:
		return nil, errors.New("no PEM block")
	case len(bytes.TrimSpace(rest)) != 0:
		return nil, errors.New("more than one PEM block")
	case block.Type == "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case block.Type == pemCert:
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM %q is neither a PUBLIC KEY nor a CERTIFICATE", block.Type)
}

func onePEM(b []byte, typ string) ([]byte, error) {
	block, rest := pem.Decode(b)
	if block == nil || block.Type != typ {
		return nil, fmt.Errorf("no PEM %q block", typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("data after the PEM %q block", typ)
	}
	return block.Bytes, nil
}

package pki

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// BenchmarkIssueRepo and BenchmarkCreateCertificateBare sign the same
// repository certificate with the same P-256 CA key; their ratio is the cost
// of the careful path (throwaway key, lint, sign, verify, compare, lint again).
func BenchmarkIssueRepo(b *testing.B) {
	caKey, rootKey := testenv.SoftKey(b, keyspec.ECDSAP256), testenv.SoftKey(b, keyspec.ECDSAP256)
	ca, err := IssueCA(context.Background(), caKey, req(0))
	if err != nil {
		b.Fatal(err)
	}
	csr := csrFor(b, rootKey, testGUN)
	for b.Loop() {
		if _, err := IssueRepo(context.Background(), ca, caKey, csr, testGUN, req(0)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateCertificateBare(b *testing.B) {
	caKey, rootKey := testenv.SoftKey(b, keyspec.ECDSAP256), testenv.SoftKey(b, keyspec.ECDSAP256)
	ca, err := IssueCA(context.Background(), caKey, req(0))
	if err != nil {
		b.Fatal(err)
	}
	ski, _ := subjectKeyID(rootKey.Public())
	for b.Loop() {
		serial, _ := newSerial(rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: serial, Subject: pkix.Name{CommonName: testGUN},
			NotBefore: testNow, NotAfter: testNow.AddDate(0, 0, DefaultRepoDays),
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
			SubjectKeyId: ski, SignatureAlgorithm: x509.ECDSAWithSHA256,
		}
		if _, err := x509.CreateCertificate(rand.Reader, tmpl, ca, rootKey.Public(), caKey); err != nil {
			b.Fatal(err)
		}
	}
}

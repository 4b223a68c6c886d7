package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// A failing lint names the lint, and the real signer is never asked to sign.
func TestLintStopsBeforeSigning(t *testing.T) {
	ctx := context.Background()
	caKey := &countingSigner{Signer: testenv.SoftKey(t, keyspec.ECDSAP256)}
	ca, err := IssueCA(ctx, caKey, req(0))
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)

	for _, tc := range []struct {
		name  string
		issue func(s crypto.Signer) error
		lint  string
	}{
		{"repo over RSA-1024", func(s crypto.Signer) error {
			_, err := IssueRepo(ctx, ca, s, rawCSR(t, rsa1024, testGUN), testGUN, req(0))
			return err
		}, "e_rsa_mod_less_than_2048_bits"},
		{"repo over P-224", func(s crypto.Signer) error {
			_, err := IssueRepo(ctx, ca, s, rawCSR(t, p224, testGUN), testGUN, req(0))
			return err
		}, "e_ec_improper_curves"},
		{"CA without CN", func(s crypto.Signer) error {
			r := req(0)
			r.Subject = pkix.Name{Organization: []string{"Acme"}}
			_, err := IssueCA(ctx, s, r)
			return err
		}, "e_ca_common_name_missing"},
		{"CA subject with a trailing space (a warning stops too)", func(s crypto.Signer) error {
			r := req(0)
			r.Subject = pkix.Name{CommonName: "Docker Notary CA "}
			_, err := IssueCA(ctx, s, r)
			return err
		}, "w_subject_dn_trailing_whitespace"},
		{"CA subject with a placeholder value", func(s crypto.Signer) error {
			r := req(0)
			r.Subject = pkix.Name{CommonName: "Docker Notary CA", Organization: []string{"-"}}
			_, err := IssueCA(ctx, s, r)
			return err
		}, "e_subject_contains_noninformational_value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer := &countingSigner{Signer: caKey.Signer}
			err := tc.issue(signer)
			var lerr *LintError
			if !errors.As(err, &lerr) {
				t.Fatalf("err %v, want a LintError", err)
			}
			if !slices.ContainsFunc(lerr.Findings, func(f Finding) bool { return f.Lint == tc.lint }) {
				t.Errorf("findings %+v lack %s", lerr.Findings, tc.lint)
			}
			if msg := err.Error(); !strings.Contains(msg, "pre-issuance lint ") || !strings.Contains(msg, "lint "+tc.lint+": ") {
				t.Errorf("error %q does not name lint %s", err, tc.lint)
			}
			if n := signer.n.Load(); n != 0 {
				t.Errorf("real signer called %d times", n)
			}
		})
	}
}

// The lint certificate of a self-signed certificate is linted as self-signed
// although the throwaway key's signature does not verify under its key:
// otherwise zlint would take the CA for a subordinate and skip the root lints,
// which would then only fail after the real signature.
func TestLintSelfSignedAsRoot(t *testing.T) {
	key := &countingSigner{Signer: testenv.SoftKey(t, keyspec.ECDSAP256)}
	tmpl, err := baseTemplate(req(0), DefaultCADays, key.Public(), key.Public())
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Subject = pkix.Name{CommonName: "Docker Notary CA"}
	tmpl.IsCA = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	// serverAuth: zlint runs BR lints only on certificates it takes for TLS
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	_, err = issue(context.Background(), tmpl, nil, key.Public(), key)
	if err == nil || !strings.Contains(err.Error(), "lint e_root_ca_extended_key_usage_present") {
		t.Fatalf("err %v, want e_root_ca_extended_key_usage_present", err)
	}
	if key.n.Load() != 0 {
		t.Error("real signer called")
	}
}

// Keys and signers that do not match, or lie, never yield a certificate.
func TestSignerMismatch(t *testing.T) {
	ctx := context.Background()
	caKey, rootKey, other := testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP256)
	ca, err := IssueCA(ctx, caKey, req(0))
	if err != nil {
		t.Fatal(err)
	}
	rootCSR, repoCSR := csrFor(t, rootKey, RootCommonName), csrFor(t, rootKey, testGUN)
	for _, tc := range []struct {
		name  string
		issue func() error
		want  string
	}{
		{"root: signer is not the CSR key", func() error {
			_, err := IssueRoot(ctx, other, rootCSR, req(0))
			return err
		}, "not the signer's"},
		{"repo: CA signer is not the CA key", func() error {
			_, err := IssueRepo(ctx, ca, other, repoCSR, testGUN, req(0))
			return err
		}, "not the CA certificate's"},
		{"CA: garbage signature", func() error {
			_, err := IssueCA(ctx, garbageSigner{caKey.Public()}, req(0))
			return err
		}, "sign"},
		{"root: garbage signature", func() error {
			_, err := IssueRoot(ctx, garbageSigner{rootKey.Public()}, rootCSR, req(0))
			return err
		}, "sign"},
		{"repo: garbage signature", func() error {
			_, err := IssueRepo(ctx, ca, garbageSigner{caKey.Public()}, repoCSR, testGUN, req(0))
			return err
		}, "sign"},
		{"repo: signs with another key", func() error {
			_, err := IssueRepo(ctx, ca, liarSigner{caKey.Public(), other}, repoCSR, testGUN, req(0))
			return err
		}, "sign"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.issue()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRequestChecks(t *testing.T) {
	ctx := context.Background()
	caKey, rootKey := testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP256)
	ca, err := IssueCA(ctx, caKey, req(0))
	if err != nil {
		t.Fatal(err)
	}
	rootCSR, repoCSR := csrFor(t, rootKey, RootCommonName), csrFor(t, rootKey, testGUN)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	withSubject := req(0)
	withSubject.Subject = pkix.Name{CommonName: "x"}

	// Each row gets s, a counting signer over the key that would sign
	// (key; the CA key when nil): the check must stop before it is used.
	for _, tc := range []struct {
		name  string
		issue func(s crypto.Signer) error
		want  string
		key   crypto.Signer
	}{
		{"no random source", func(s crypto.Signer) error {
			_, err := IssueCA(ctx, s, Request{})
			return err
		}, "Request.Rand", nil},
		{"negative days", func(s crypto.Signer) error {
			_, err := IssueCA(ctx, s, req(-1))
			return err
		}, "out of range", nil},
		{"too many days", func(s crypto.Signer) error {
			_, err := IssueRepo(ctx, ca, s, repoCSR, testGUN, req(MaxDays+1))
			return err
		}, "out of range", nil},
		{"canceled context", func(s crypto.Signer) error {
			_, err := IssueRepo(canceled, ca, s, repoCSR, testGUN, req(0))
			return err
		}, "context canceled", nil},
		{"subject on the root", func(s crypto.Signer) error {
			_, err := IssueRoot(ctx, s, rootCSR, withSubject)
			return err
		}, "only for the CA", rootKey},
		{"root CSR with a repository CN", func(s crypto.Signer) error {
			_, err := IssueRoot(ctx, s, repoCSR, req(0))
			return err
		}, `CSR subject CN is "docker.io/alice/nginx", want "root"`, rootKey},
		{"repo CSR of another GUN", func(s crypto.Signer) error {
			_, err := IssueRepo(ctx, ca, s, repoCSR, "docker.io/bob/nginx", req(0))
			return err
		}, `want "docker.io/bob/nginx"`, nil},
		{"bad GUN", func(s crypto.Signer) error {
			_, err := IssueRepo(ctx, ca, s, repoCSR, "Docker.io/alice/nginx", req(0))
			return err
		}, "has uppercase letters", nil},
		{"CA is not a CA", func(s crypto.Signer) error {
			root, err := IssueRoot(ctx, rootKey, rootCSR, req(0))
			if err != nil {
				return err
			}
			_, err = IssueRepo(ctx, root, s, repoCSR, testGUN, req(0))
			return err
		}, "not a CA certificate", rootKey},
		{"repo outlives the CA", func(s crypto.Signer) error {
			r := req(DefaultCADays + 1)
			_, err := IssueRepo(ctx, ca, s, repoCSR, testGUN, r)
			return err
		}, "would outlive the CA certificate", nil},
		{"unsupported key type", func(s crypto.Signer) error {
			_, err := IssueCA(ctx, s, req(0))
			return err
		}, "unsupported", edKey},
		{"tampered CSR", func(s crypto.Signer) error {
			bad := *repoCSR
			bad.Signature = append([]byte(nil), repoCSR.Signature...)
			bad.Signature[len(bad.Signature)-1] ^= 1
			_, err := IssueRepo(ctx, ca, s, &bad, testGUN, req(0))
			return err
		}, "CSR signature", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			if key == nil {
				key = caKey
			}
			s := &countingSigner{Signer: key}
			err := tc.issue(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if s.n.Load() != 0 {
				t.Error("signer called")
			}
		})
	}
}

func TestNewCSR(t *testing.T) {
	for _, g := range []keyspec.Type{keyspec.ECDSAP256, keyspec.ECDSAP384, keyspec.RSA2048} {
		t.Run(string(g), func(t *testing.T) {
			key := testenv.SoftKey(t, g)
			der, err := NewCSR(key, testGUN)
			if err != nil {
				t.Fatal(err)
			}
			csr, err := ParseCSR(der)
			if err != nil {
				t.Fatal(err)
			}
			if csr.Subject.String() != "CN="+testGUN || !keyspec.SamePublic(csr.PublicKey, key.Public()) {
				t.Errorf("subject %q", csr.Subject)
			}
			if csr.SignatureAlgorithm != wantSigAlg(key.Public()) {
				t.Errorf("signature algorithm %v", csr.SignatureAlgorithm)
			}
			der[len(der)-1] ^= 1
			if _, err := ParseCSR(der); err == nil {
				t.Error("tampered CSR parsed")
			}
		})
	}
	if _, err := NewCSR(garbageSigner{testenv.SoftKey(t, keyspec.ECDSAP256).Public()}, "root"); err == nil {
		t.Error("garbage signature accepted")
	}
}

// The lint selection: which sources and names run, and that every name we
// rely on still exists in this zlint.
func TestLintRegistry(t *testing.T) {
	global := lint.GlobalRegistry()
	reg, err := lintRegistry()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range brLints {
		l := global.ByName(name)
		if l == nil || l.Source != lint.CABFBaselineRequirements {
			t.Errorf("brLints: %s is not a CABF_BR lint of this zlint", name)
		} else if reg.ByName(name) == nil {
			t.Errorf("brLints: %s not selected", name)
		}
	}
	for name, why := range skipLints {
		l := global.ByName(name)
		if l == nil || !slices.Contains(lintSources, l.Source) || why == "" {
			t.Errorf("skipLints: %s is unknown, outside lintSources or has no reason", name)
		}
	}
	for _, name := range global.Names() {
		l := global.ByName(name)
		if global.CertificateLints().ByName(name) == nil {
			continue
		}
		_, skip := skipLints[name]
		want := (slices.Contains(lintSources, l.Source) && !skip) || slices.Contains(brLints, name)
		if got := reg.ByName(name) != nil; got != want {
			t.Errorf("%s (%s): selected %v, want %v", name, l.Source, got, want)
		}
	}
	if n := len(reg.Names()); n < 150 {
		t.Errorf("only %d lints selected", n)
	}
}

// The excluded BR source really would refuse the repository certificate: the
// reason it is excluded, kept honest.
func TestExcludedBRLintsWouldFire(t *testing.T) {
	c := issueChain(t, testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP256), testNow)
	zc, err := zx509.ParseCertificate(c.repo.Raw)
	if err != nil {
		t.Fatal(err)
	}
	res := zlint.LintCertificate(zc)
	for _, name := range []string{"e_ext_san_missing", "e_sub_cert_eku_missing", "e_sub_cert_certificate_policies_missing", "e_server_cert_valid_time_longer_than_200_days"} {
		if r := res.Results[name]; r == nil || r.Status < lint.Error {
			t.Errorf("%s: %v, expected it to fail on a notary repository certificate", name, r)
		}
	}
}

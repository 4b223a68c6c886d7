package pki

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// lintSources are the zlint sources run in full. Everything they report
// above Pass stops the issuance.
//
//   - RFC 5280: the certificate profile itself.
//   - RFC 3279, RFC 5480, RFC 8813: RSA/EC key and signature encodings and
//     the key usages that go with them.
//   - RFC 5891: IDN rules; they only look at DNS names, which we never set.
//   - Community: DN whitespace and encoding mistakes, weak RSA (Fermat) and
//     ECDSA keys, non-positive validity.
//
// Left out, with why:
//
//   - CABF_BR as a whole: the Baseline Requirements govern publicly trusted
//     TLS certificates, and zlint takes any leaf without an EKU for a TLS
//     server certificate, which the repository certificate must be (see the
//     package comment). Its subscriber rules then demand a SAN, a CN taken
//     from it, a DNS-valid GUN, certificate policies, AIA and CRL URLs, an
//     EKU, and a validity that shrinks by date (200 days from 2026-03-15,
//     100 from 2027, 47 from 2029) — a source that would refuse every notary
//     certificate, some only on a future date. The BR rules that are plain
//     good hygiene are run by name: brLints.
//   - CABF_EV, CABF_SMIME_BR, CABF_CS_BR: no EV, e-mail or code-signing (EKU)
//     certificates here.
//   - ETSI_ESI: no qcStatements.
//   - Mozilla, Apple, Chrome: root store policies for CAs in browsers; this
//     CA is only ever pinned by notary clients.
//   - RFC 6960, RFC 6962: no OCSP and no Certificate Transparency.
var lintSources = []lint.LintSource{
	lint.RFC5280, lint.RFC3279, lint.RFC5480, lint.RFC8813, lint.RFC5891, lint.Community,
}

// brLints are the Baseline Requirements lints run despite CABF_BR being left
// out: they hold for any certificate a careful CA signs. Names, not a pattern,
// so that a zlint upgrade renaming one fails loudly (Filter rejects unknown
// names) instead of silently dropping the check. zlint runs BR lints only on
// certificates it takes for TLS ones, i.e. with no EKU or serverAuth: all of
// ours.
var brLints = []string{
	// keys and algorithms: no weak RSA, no odd curves, no DSA, no SHA-1
	"e_rsa_mod_less_than_2048_bits",
	"e_rsa_public_exponent_not_odd",
	"e_rsa_public_exponent_too_small",
	"w_rsa_mod_factors_smaller_than_752",
	"w_rsa_mod_not_odd",
	"w_rsa_public_exponent_not_in_range",
	"e_ec_improper_curves",
	"e_public_key_type_not_allowed",
	"e_algorithm_identifier_improper_encoding",
	"e_signature_algorithm_not_supported",
	"e_sub_cert_or_sub_ca_using_sha1",
	"e_br_prohibit_dsa_usage",
	"e_cabf_ecc_allowed_key_usages",
	// CA certificate shape; a self-signed CA must carry no EKU, which would
	// constrain the whole chain notary verifies
	"e_ca_is_ca",
	"e_ca_key_usage_missing",
	"e_ca_key_usage_not_critical",
	"e_ca_key_cert_sign_not_set",
	"e_ca_crl_sign_not_set",
	"e_ca_common_name_missing",
	"e_ca_country_name_invalid",
	"e_root_ca_extended_key_usage_present",
	"e_root_ca_key_usage_present",
	"e_root_ca_key_usage_must_be_critical",
	// leaf shape: a repository certificate can sign nothing but TUF data
	"e_sub_cert_not_is_ca",
	"e_sub_cert_key_usage_cert_sign_bit_set",
	"e_sub_cert_key_usage_crl_sign_bit_set",
	"e_sub_cert_basic_constraints_not_critical",
	// encoding and subject hygiene (the CA subject comes from configuration)
	"e_invalid_certificate_version",
	"e_subject_country_not_iso",
	"e_duplicate_subject_attribs",
	"e_subject_contains_noninformational_value",
	"e_subject_rdns_correct_encoding",
}

// skipLints are lints of lintSources deliberately not run, each with its
// reason. Every other lint of those sources passes on all three profiles, and
// the tests keep it that way.
var skipLints = map[string]string{
	// It tries the signature against eight leaked eMudhra P-384 intermediate
	// keys. Our issuer key was just generated in our token (and the lint
	// certificate's is a throwaway), so it cannot match; the check alone
	// took ~85% of an issuance's time.
	"e_cert_issued_by_compromised_emudhra_ca": "issuer is our own token key, never one of eMudhra's leaked keys",
}

// lints is lintRegistry, built once per process: it is the same for every
// issuance, and building it walks zlint's few hundred lints by name, twice
// per repository of a ceremony (the dry run and the issuance).
var lints = sync.OnceValues(lintRegistry)

// lintRegistry selects the lints: all of lintSources but skipLints, plus
// brLints. zlint's Filter can only intersect, so the union is built by name.
func lintRegistry() (lint.Registry, error) {
	global := lint.GlobalRegistry()
	var names []string
	for _, name := range global.Names() {
		l := global.ByName(name)
		if l == nil || global.CertificateLints().ByName(name) == nil {
			continue // CRL and OCSP lints: we lint certificates only
		}
		if _, skip := skipLints[name]; skip {
			continue
		}
		if slices.Contains(lintSources, l.Source) {
			names = append(names, name)
		}
	}
	names = append(names, brLints...)
	reg, err := global.Filter(lint.FilterOptions{IncludeNames: names})
	if err != nil {
		return nil, fmt.Errorf("lint registry: %w", err)
	}
	return reg, nil
}

// Finding is one lint result above Pass.
type Finding struct {
	Lint    string // zlint name, e.g. e_rsa_mod_less_than_2048_bits
	Status  string // notice, warn, error or fatal
	Details string // zlint's details, or the lint's description if none
}

// LintError lists every finding of one lint run, sorted by lint name. Any
// finding stops the issuance, warnings and notices included: a ceremony
// certificate is kept for years and cannot be re-signed on a whim, so a
// finding is fixed in the configuration, or skipped here by a reviewed change.
type LintError struct {
	Findings []Finding
}

func (e *LintError) Error() string {
	var b strings.Builder
	for i, f := range e.Findings {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "lint %s: %s", f.Lint, f.Details)
	}
	return b.String()
}

// lintDERCert lints a DER certificate and returns its TBSCertificate.
// selfSigned marks a lint certificate standing in for a self-signed one: its
// throwaway signature does not verify under its own key, so zcrypto would not
// set SelfSigned, and zlint would then take a root CA for a subordinate CA
// (and a self-signed leaf for a subscriber) and run the wrong lints.
func lintDERCert(der []byte, reg lint.Registry, selfSigned bool) ([]byte, error) {
	c, err := zx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("lint: parse: %w", err)
	}
	if selfSigned {
		c.SelfSigned = true
	}
	res := zlint.LintCertificateEx(c, reg)
	var findings []Finding
	for name, r := range res.Results {
		if r.Status <= lint.Pass {
			continue
		}
		details := r.Details
		if details == "" {
			details = reg.ByName(name).Description
		}
		findings = append(findings, Finding{Lint: name, Status: r.Status.String(), Details: details})
	}
	if len(findings) > 0 {
		slices.SortFunc(findings, func(a, b Finding) int { return strings.Compare(a.Lint, b.Lint) })
		return nil, &LintError{Findings: findings}
	}
	return c.RawTBSCertificate, nil
}

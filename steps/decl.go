package steps

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/transcript"
)

// Key declares a key pair a step generates inside the token.
type Key struct {
	Label string
	Type  keyspec.Type
	Role  string // what the key is for, in words: "CA", "Notary root"
	// SignsTranscript marks the key that signs the journal: it is made
	// before the journal's header, which it signs.
	SignsTranscript bool
}

// Cert declares a certificate a step issues. Its File (relative to the
// output directory) is also its name among the run's artifacts.
type Cert struct {
	File      string
	Key       string // label of the key it certifies
	IssuerKey string // label of the key that signs it: Key when self-signed
	Issuer    string // File of the issuing certificate; "" when self-signed
	CSR       CSR    // the CSR over Key that comes first, if the profile takes one
	// Store puts the certificate on the token next to its key.
	Store bool
	// Issue is the pki profile. Preflight calls it with throwaway keys in
	// the dry run, the step with the token's keys: one path for both.
	Issue func(ctx context.Context, in Issuance) (*x509.Certificate, error)
}

// CSR declares a certificate request with subject CN over a cert's key. An
// empty File keeps it in memory.
type CSR struct {
	CN   string
	File string
}

// Issuance is what a profile gets to issue a certificate.
type Issuance struct {
	Signer     crypto.Signer            // the issuer's key
	IssuerCert *x509.Certificate        // nil when self-signed
	CSR        *x509.CertificateRequest // nil when the profile takes none
	Request    pki.Request
}

// Secret declares a secret source a step reads, by its config field.
type Secret struct {
	Field  string // "notary.snapshot_passphrase"
	Source string
	// Passphrase: it protects a new notary key file, so the notary CLI's
	// minimum length applies (secret.CheckPassphrase).
	Passphrase bool
}

// Made holds what a step's declarations produced in this run (or found,
// when an interrupted run had made them).
type Made struct {
	keys    map[string]*hsm.Key
	adopted map[string]bool
	certs   map[string]*x509.Certificate
	csrs    map[string]*x509.CertificateRequest
	pem     map[string][]byte // files written or found, by name
	order   []string          // file names in the order made
}

func newMade() *Made {
	return &Made{keys: map[string]*hsm.Key{}, adopted: map[string]bool{}, certs: map[string]*x509.Certificate{},
		csrs: map[string]*x509.CertificateRequest{}, pem: map[string][]byte{}}
}

// Key is the key made under label.
func (m *Made) Key(label string) *hsm.Key { return m.keys[label] }

// Cert is the certificate made as file.
func (m *Made) Cert(file string) *x509.Certificate { return m.certs[file] }

// result is the transcript's record of what was made: every key with the
// token's word that it cannot leave, every certificate and CSR, and each
// file as an inline artifact.
func (m *Made) result(summary string, keys []Key, certs []Cert) *Result {
	facts := map[string]any{}
	for _, k := range keys {
		facts[factName("key", k.Label, len(keys))] = keyFacts(m.keys[k.Label], m.adopted[k.Label])
	}
	for _, c := range certs {
		facts[factName("certificate", c.File, len(certs))] = certFacts(m.certs[c.File])
		if csr := m.csrs[c.File]; csr != nil {
			facts[factName("csrSha256", c.File, len(certs))] = sha256Hex(csr.Raw)
		}
	}
	res := &Result{Summary: summary, Facts: facts}
	for _, name := range m.order {
		res.Subjects = append(res.Subjects, transcript.NewSubject(name, mediaType(name), m.pem[name]))
	}
	return res
}

// factName keeps the transcript's field names of a step that makes one key
// or one certificate ("key", "certificate"), and names them apart when it
// makes several.
func factName(kind, name string, n int) string {
	if n == 1 {
		return kind
	}
	return fmt.Sprintf("%s:%s", kind, name)
}

func mediaType(name string) string {
	if len(name) > 4 && name[len(name)-4:] == ".csr" {
		return "application/pkcs10"
	}
	return "application/x-pem-file"
}

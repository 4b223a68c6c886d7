package steps

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/pki"
)

// TranscriptKeyID is the step that makes the transcript signer.
const TranscriptKeyID ID = "transcript-key"

// TranscriptCertFile is the transcript signer's certificate, issued by the
// CA: with it, the CA certificate is all an auditor needs to verify the
// transcript.
const TranscriptCertFile = "transcript.pem"

// transcriptKeyStep has the CA certify the key that signs the transcript as
// soon as the CA exists. The key itself, in the token like every other key,
// is made right after preflight, before the journal's header: it signs every
// line from the header on (signer.go); this step finds it.
func transcriptKeyStep(cfg *config.Config) Step {
	k := cfg.Transcript
	return Step{
		ID:    TranscriptKeyID,
		Title: "Create the transcript key",
		Explain: "Generate the key that signs every line of the ceremony's transcript inside the token: it is the ceremony's " +
			"first key, made right after preflight so that it signs the record from its first line. Once the CA exists, " +
			"the CA certifies it, so that an auditor holding only the CA certificate can check the whole record, years from now.",
		Seed:         []string{"(none: the manual procedure kept no signed record)"},
		Inputs:       map[string]any{"label": k.Label, "key": k.Key, "days": k.Days},
		Irreversible: true,
		Needs:        []ID{CAID},
		Keys:         []Key{{Label: k.Label, Type: k.Key, Role: "transcript signer", SignsTranscript: true}},
		Certs: []Cert{{File: TranscriptCertFile, Key: k.Label, IssuerKey: cfg.CA.Label, Issuer: CAFile, Store: true,
			CSR: CSR{CN: pki.TranscriptCommonName},
			Issue: func(ctx context.Context, in Issuance) (*x509.Certificate, error) {
				in.Request.Days = k.Days
				return pki.IssueTranscript(ctx, in.IssuerCert, in.Signer, in.CSR, in.Request)
			}}},
		summary: func(m *Made) string {
			key, cert := m.Key(k.Label), m.Cert(TranscriptCertFile)
			return fmt.Sprintf("transcript key %q (id %s) in the token, certified by the CA until %s; public key SHA-256 %s",
				key.Label, key.IDHex(), cert.NotAfter.Format("2006-01-02"), Fingerprint(cert.RawSubjectPublicKeyInfo))
		},
	}
}

package steps

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/pki"
)

// CAID is the step that makes the ceremony CA.
const CAID ID = "ca"

// CAFile is the CA certificate every Notary client pins.
const CAFile = "ca.pem"

func caStep(cfg *config.Config) Step {
	k := cfg.CA
	return Step{
		ID:    CAID,
		Title: "Create the CA",
		Explain: "Generate the CA key pair inside the token (it can never leave it), self-sign the CA " +
			"certificate every Notary client will pin, and store the certificate on the token next to its key.",
		Seed: []string{
			"ucl generate -t " + uclType(k.Key) + " -n " + k.Label, "ucl export --obfuscate (not needed: the key never leaves the token)",
			fmt.Sprintf("openssl req -x509 -days %d -sha256 -extensions v3_ca -subj %q", k.Days, k.Subject), "ucl import --name " + k.Label,
		},
		Inputs:       map[string]any{"label": k.Label, "key": k.Key, "subject": k.Subject, "days": k.Days},
		Irreversible: true,
		Keys:         []Key{{Label: k.Label, Type: k.Key, Role: "CA"}},
		Certs: []Cert{{File: CAFile, Key: k.Label, IssuerKey: k.Label, Store: true,
			Issue: func(ctx context.Context, in Issuance) (*x509.Certificate, error) {
				subject, err := pki.ParseSubject(k.Subject)
				if err != nil {
					return nil, fmt.Errorf("ca.subject: %w", err)
				}
				in.Request.Subject, in.Request.Days = subject, k.Days
				return pki.IssueCA(ctx, in.Signer, in.Request)
			}}},
		summary: func(m *Made) string {
			key, cert := m.Key(k.Label), m.Cert(CAFile)
			return fmt.Sprintf("CA key %q (id %s) in the token; %s valid until %s; SHA-256 fingerprint %s",
				key.Label, key.IDHex(), cert.Subject, cert.NotAfter.Format("2006-01-02"), Fingerprint(cert.Raw))
		},
	}
}

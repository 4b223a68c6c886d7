package steps

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/pki"
)

// RootID is the step that makes the Notary root key.
const RootID ID = "root"

// The root key's CSR and self-signed certificate.
const (
	RootCSRFile  = "root.csr"
	RootCertFile = "root.crt"
)

func rootStep(cfg *config.Config) Step {
	k := cfg.Root
	return Step{
		ID:    RootID,
		Title: "Create the root key",
		Explain: "Generate the Notary root key inside the token, make its CSR with subject CN=root and a " +
			"self-signed root certificate, and store it on the token. This key signs every repository's root.json.",
		Seed: []string{
			"ucl generate -t " + uclType(k.Key) + " -n " + k.Label, "ucl csr --subject CN=root -n " + k.Label,
			"ucl export -u <ROOT UID> --obfuscate (not needed: the key never leaves the token)",
			fmt.Sprintf("openssl x509 -req -sha256 -days %d -signkey root.key", k.Days), "ucl import --name " + k.Label,
		},
		Inputs:       map[string]any{"label": k.Label, "key": k.Key, "days": k.Days},
		Irreversible: true,
		Keys:         []Key{{Label: k.Label, Type: k.Key, Role: "Notary root"}},
		Certs: []Cert{{File: RootCertFile, Key: k.Label, IssuerKey: k.Label, Store: true,
			CSR: CSR{CN: pki.RootCommonName, File: RootCSRFile},
			Issue: func(ctx context.Context, in Issuance) (*x509.Certificate, error) {
				in.Request.Days = k.Days
				return pki.IssueRoot(ctx, in.Signer, in.CSR, in.Request)
			}}},
		summary: func(m *Made) string {
			key, cert := m.Key(k.Label), m.Cert(RootCertFile)
			return fmt.Sprintf("root key %q (id %s) in the token; CN=root certificate valid until %s; public key SHA-256 %s",
				key.Label, key.IDHex(), cert.NotAfter.Format("2006-01-02"), Fingerprint(cert.RawSubjectPublicKeyInfo))
		},
	}
}

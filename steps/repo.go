package steps

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/pki"
)

// ReposDir holds the repository CSRs and certificates.
const ReposDir = "repos"

// RepoID is the step that certifies a repository.
func RepoID(gun string) ID { return ID("repo:" + gun) }

// RepoBase is the file name stem of a repository's CSR and certificate.
func RepoBase(gun string) string { return ReposDir + "/" + strings.ReplaceAll(gun, "/", "_") }

// RepoCertFile is the repository's certificate, its root certificate in
// notary init.
func RepoCertFile(gun string) string { return RepoBase(gun) + ".pem" }

func repoStep(cfg *config.Config, r config.Repository) Step {
	base := RepoBase(r.GUN)
	return Step{
		ID:    RepoID(r.GUN),
		Title: "Repository certificate for " + r.GUN,
		Explain: "Make a CSR with CN=" + r.GUN + " over the root key and have the CA issue the repository " +
			"certificate: a leaf with no extended key usage, which is what Notary's CA pinning accepts. It becomes the repository's root certificate in notary init.",
		Seed: []string{
			"ucl csr --subject CN=" + r.GUN + " -u <Root key UID>",
			fmt.Sprintf("openssl ca -create_serial -extensions repo_cert -days %d", r.Days),
		},
		Inputs: map[string]any{"gun": r.GUN, "days": r.Days},
		Needs:  []ID{CAID, RootID},
		Certs: []Cert{{File: RepoCertFile(r.GUN), Key: cfg.Root.Label, IssuerKey: cfg.CA.Label, Issuer: CAFile,
			CSR: CSR{CN: r.GUN, File: base + ".csr"},
			Issue: func(ctx context.Context, in Issuance) (*x509.Certificate, error) {
				in.Request.Days = r.Days
				return pki.IssueRepo(ctx, in.IssuerCert, in.Signer, in.CSR, r.GUN, in.Request)
			}}},
		summary: func(m *Made) string {
			return fmt.Sprintf("CN=%s issued by the CA over the root key, valid until %s", r.GUN, m.Cert(RepoCertFile(r.GUN)).NotAfter.Format("2006-01-02"))
		},
	}
}

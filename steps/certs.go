package steps

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/transcript"
)

// Output file names (design.md).
const (
	CAFile       = "ca.pem"
	RootCSRFile  = "root.csr"
	RootCertFile = "root.crt"
	ReposDir     = "repos"
)

// Fingerprint is the SHA-256 of der in groups of four hex digits, for
// witnesses to read aloud and compare with what every client will pin:
// `openssl x509 -noout -fingerprint -sha256` shows the same digits.
func Fingerprint(der []byte) string {
	h := strings.ToUpper(sha256Hex(der))
	groups := make([]string, 0, len(h)/4)
	for i := 0; i < len(h); i += 4 {
		groups = append(groups, h[i:i+4])
	}
	return strings.Join(groups, " ")
}

// uclType is the seed's `ucl generate -t` word for a key type.
func uclType(t keyspec.Type) string {
	if t.IsEC() {
		return "ECC"
	}
	return "RSA"
}

// RepoBase is the file name stem of a repository's CSR and certificate.
func RepoBase(gun string) string { return ReposDir + "/" + strings.ReplaceAll(gun, "/", "_") }

func caStep(cfg *config.Config) Step {
	return Step{
		ID:    "ca",
		Title: "Create the CA",
		Explain: "Generate the CA key pair inside the token (it can never leave it), self-sign the CA " +
			"certificate every Notary client will pin, and store the certificate on the token next to its key.",
		Seed: []string{
			"ucl generate -t " + uclType(cfg.CA.Key) + " -n " + cfg.CA.Label, "ucl export --obfuscate (not needed: the key never leaves the token)",
			fmt.Sprintf("openssl req -x509 -days %d -sha256 -extensions v3_ca -subj %q", cfg.CA.Days, cfg.CA.Subject), "ucl import --name " + cfg.CA.Label,
		},
		Inputs:       map[string]any{"label": cfg.CA.Label, "key": cfg.CA.Key, "subject": cfg.CA.Subject, "days": cfg.CA.Days},
		Irreversible: true,
		replay:       true,
		check:        needSession,
		run: func(ctx context.Context, st *State) (*Result, error) {
			key, adopted, err := st.key(ctx, cfg.CA.Label, cfg.CA.Key)
			if err != nil {
				return nil, err
			}
			st.caKey = key
			subject, err := pki.ParseSubject(cfg.CA.Subject)
			if err != nil {
				return nil, err
			}
			cert, pemBytes, err := st.cert(ctx, CAFile, key, func() (*x509.Certificate, error) {
				return pki.IssueCA(ctx, key.WithContext(ctx), pki.Request{Subject: subject, Days: cfg.CA.Days, Now: st.now(), Rand: st.sess.Rand(ctx)})
			})
			if err != nil {
				return nil, err
			}
			st.caCert = cert
			if err := st.store(ctx, key, cert); err != nil {
				return nil, err
			}
			return &Result{
				Summary: fmt.Sprintf("CA key %q (id %s) in the token; %s valid until %s; SHA-256 fingerprint %s",
					key.Label, key.IDHex(), cert.Subject, cert.NotAfter.Format("2006-01-02"), Fingerprint(cert.Raw)),
				Facts:    map[string]any{"key": keyFacts(key, adopted), "certificate": certFacts(cert)},
				Subjects: []transcript.Subject{transcript.NewSubject(CAFile, "application/x-pem-file", pemBytes)},
			}, nil
		},
	}
}

func rootStep(cfg *config.Config) Step {
	return Step{
		ID:    "root",
		Title: "Create the root key",
		Explain: "Generate the Notary root key inside the token, make its CSR with subject CN=root and a " +
			"self-signed root certificate, and store it on the token. This key signs every repository's root.json.",
		Seed: []string{
			"ucl generate -t " + uclType(cfg.Root.Key) + " -n " + cfg.Root.Label, "ucl csr --subject CN=root -n " + cfg.Root.Label,
			"ucl export -u <ROOT UID> --obfuscate (not needed: the key never leaves the token)",
			fmt.Sprintf("openssl x509 -req -sha256 -days %d -signkey root.key", cfg.Root.Days), "ucl import --name " + cfg.Root.Label,
		},
		Inputs:       map[string]any{"label": cfg.Root.Label, "key": cfg.Root.Key, "days": cfg.Root.Days},
		Irreversible: true,
		replay:       true,
		check:        needSession,
		run: func(ctx context.Context, st *State) (*Result, error) {
			key, adopted, err := st.key(ctx, cfg.Root.Label, cfg.Root.Key)
			if err != nil {
				return nil, err
			}
			st.rootKey = key
			csr, csrPEM, err := st.csr(ctx, RootCSRFile, key, pki.RootCommonName)
			if err != nil {
				return nil, err
			}
			st.rootCSR = csr
			cert, certPEM, err := st.cert(ctx, RootCertFile, key, func() (*x509.Certificate, error) {
				return pki.IssueRoot(ctx, key.WithContext(ctx), csr, pki.Request{Days: cfg.Root.Days, Now: st.now(), Rand: st.sess.Rand(ctx)})
			})
			if err != nil {
				return nil, err
			}
			st.rootCert = cert
			if err := st.store(ctx, key, cert); err != nil {
				return nil, err
			}
			return &Result{
				Summary: fmt.Sprintf("root key %q (id %s) in the token; CN=root certificate valid until %s; public key SHA-256 %s",
					key.Label, key.IDHex(), cert.NotAfter.Format("2006-01-02"), Fingerprint(cert.RawSubjectPublicKeyInfo)),
				Facts: map[string]any{"key": keyFacts(key, adopted), "certificate": certFacts(cert), "csrSha256": sha256Hex(csr.Raw)},
				Subjects: []transcript.Subject{
					transcript.NewSubject(RootCSRFile, "application/pkcs10", csrPEM),
					transcript.NewSubject(RootCertFile, "application/x-pem-file", certPEM),
				},
			}, nil
		},
	}
}

func repoStep(r config.Repository) Step {
	base := RepoBase(r.GUN)
	return Step{
		ID:    "repo:" + r.GUN,
		Title: "Repository certificate for " + r.GUN,
		Explain: "Make a CSR with CN=" + r.GUN + " over the root key and have the CA issue the repository " +
			"certificate: a leaf with no extended key usage, which is what Notary's CA pinning accepts. It becomes the repository's root certificate in notary init.",
		Seed: []string{
			"ucl csr --subject CN=" + r.GUN + " -u <Root key UID>",
			fmt.Sprintf("openssl ca -create_serial -extensions repo_cert -days %d", r.Days),
		},
		Inputs:       map[string]any{"gun": r.GUN, "days": r.Days},
		Irreversible: false,
		replay:       true,
		check:        needDone("ca", "root"),
		run: func(ctx context.Context, st *State) (*Result, error) {
			if st.caKey == nil || st.rootKey == nil || st.caCert == nil {
				return nil, fmt.Errorf("the CA and root steps have not run")
			}
			csr, csrPEM, err := st.csr(ctx, base+".csr", st.rootKey, r.GUN)
			if err != nil {
				return nil, err
			}
			cert, certPEM, err := st.cert(ctx, base+".pem", st.rootKey, func() (*x509.Certificate, error) {
				return pki.IssueRepo(ctx, st.caCert, st.caKey.WithContext(ctx), csr, r.GUN, pki.Request{Days: r.Days, Now: st.now(), Rand: st.sess.Rand(ctx)})
			})
			if err != nil {
				return nil, err
			}
			if err := pki.VerifyCAPinning(cert, st.caCert); err != nil {
				return nil, fmt.Errorf("%s: %w", base+".pem", err)
			}
			if st.repoCerts == nil {
				st.repoCerts = map[string]*x509.Certificate{}
			}
			st.repoCerts[r.GUN] = cert
			return &Result{
				Summary: fmt.Sprintf("CN=%s issued by the CA over the root key, valid until %s", r.GUN, cert.NotAfter.Format("2006-01-02")),
				Facts:   map[string]any{"gun": r.GUN, "certificate": certFacts(cert), "rootSpkiSha256": spkiSHA256(st.rootKey)},
				Subjects: []transcript.Subject{
					transcript.NewSubject(base+".csr", "application/pkcs10", csrPEM),
					transcript.NewSubject(base+".pem", "application/x-pem-file", certPEM),
				},
			}, nil
		},
	}
}

// cert returns the certificate in file rel if an earlier run wrote it (after
// checking it certifies key), else issues it and writes it.
func (st *State) cert(ctx context.Context, rel string, key *hsm.Key, issue func() (*x509.Certificate, error)) (*x509.Certificate, []byte, error) {
	old, err := st.existing(rel)
	if err != nil {
		return nil, nil, err
	}
	if old != nil {
		c, err := pki.ParseCertPEM(old)
		if err != nil {
			return nil, nil, fmt.Errorf("%s from the interrupted run: %w", rel, err)
		}
		if !samePublic(c.PublicKey, key.Public()) {
			return nil, nil, fmt.Errorf("%s from the interrupted run certifies another key than %q", rel, key.Label)
		}
		return c, old, nil
	}
	st.point("before-issue-" + rel)
	c, err := issue()
	if err != nil {
		return nil, nil, err
	}
	pemBytes := pki.CertPEM(c)
	if err := st.write(rel, pemBytes); err != nil {
		return nil, nil, err
	}
	st.point("after-write-" + rel)
	return c, pemBytes, nil
}

// csr returns the CSR in file rel if present, else makes it with key.
func (st *State) csr(ctx context.Context, rel string, key *hsm.Key, cn string) (*x509.CertificateRequest, []byte, error) {
	old, err := st.existing(rel)
	if err != nil {
		return nil, nil, err
	}
	if old != nil {
		c, err := pki.ParseCSRPEM(old)
		if err != nil {
			return nil, nil, fmt.Errorf("%s from the interrupted run: %w", rel, err)
		}
		if c.Subject.CommonName != cn || !samePublic(c.PublicKey, key.Public()) {
			return nil, nil, fmt.Errorf("%s from the interrupted run is not CN=%s over key %q", rel, cn, key.Label)
		}
		return c, old, nil
	}
	der, err := pki.NewCSR(key.WithContext(ctx), cn)
	if err != nil {
		return nil, nil, err
	}
	c, err := pki.ParseCSR(der)
	if err != nil {
		return nil, nil, err
	}
	pemBytes := pki.CSRPEM(der)
	if err := st.write(rel, pemBytes); err != nil {
		return nil, nil, err
	}
	st.point("after-write-" + rel)
	return c, pemBytes, nil
}

func samePublic(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// store puts the certificate on the token next to its key (idempotent).
func (st *State) store(ctx context.Context, key *hsm.Key, cert *x509.Certificate) error {
	if err := st.sess.StoreCertificate(ctx, key, cert); err != nil {
		return err
	}
	st.point("after-store-" + key.Label)
	return nil
}

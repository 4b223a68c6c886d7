package testenv

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

// SoftKey is a software key of type t (keyspec's throwaway key), for tests
// that need a key outside any token.
func SoftKey(tb testing.TB, t keyspec.Type) crypto.Signer {
	tb.Helper()
	k, err := t.Throwaway()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// Ceremony is a ceremony config for one test; Write renders it. It stays a
// file and not a *config.Config because config's package imports pki, whose
// tests import this package: the caller loads it.
type Ceremony struct {
	Token Token
	PIN   string   // the PIN's source; "" is Token.PINSource()
	GUNs  []string // the repositories
	// Notary adds the notary section: the server's URL and TLS CA, a trust
	// dir, and the targets and snapshot passphrases in files beside the
	// config.
	Notary *NotaryServer
	URL    string // replaces Notary.URL: an unreachable port, a proxy
	// TrustDir replaces "trust" beside the config.
	TrustDir string
	// Auth is notary.auth, a secret source; "" writes none.
	Auth string
	// TargetsKey is notary.targets_key as YAML ("{label: targets}"); ""
	// keeps the targets key in a file.
	TargetsKey  string
	Delegations []Delegation
	// Extra is YAML added as it is, before output: sections such as
	// "ca: {days: 100}\n".
	Extra string
}

// Delegation is one entry of the config's delegations.
type Delegation struct {
	GUN  string // "" is the first of Ceremony.GUNs
	Role string // "" is targets/me
	// Cert is the delegate's public key file; "" writes a fresh P-256 one
	// beside the config.
	Cert  string
	Paths string // YAML: "" is all, or a list such as "[releases/]"
	// Docker makes the delegate a docker signer (docker: true): its key in
	// targets/releases too.
	Docker bool
}

// Write writes the config as ceremony.yaml in a fresh directory, with the
// output directory "out" beside it, and returns its path.
func (c Ceremony) Write(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	pin := c.PIN
	if pin == "" {
		pin = c.Token.PINSource()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "hsm: {module: %q, token: %q, pin: %q}\nrepositories:\n", c.Token.Module, c.Token.Label, pin)
	for _, g := range c.GUNs {
		fmt.Fprintf(&b, "  - {gun: %q}\n", g)
	}
	if c.Notary != nil {
		b.WriteString(c.notary(tb, dir))
	}
	if len(c.Delegations) > 0 {
		b.WriteString("delegations:\n")
	}
	for i, d := range c.Delegations {
		b.WriteString(c.delegation(tb, dir, i, d))
	}
	b.WriteString(c.Extra + "output: out\n")
	return writeFile(tb, dir, "ceremony.yaml", b.String())
}

// notary is the notary section, with its passphrase files written in dir.
func (c Ceremony) notary(tb testing.TB, dir string) string {
	tb.Helper()
	url, trustDir := c.URL, c.TrustDir
	if url == "" {
		url = c.Notary.URL
	}
	if trustDir == "" {
		trustDir = "trust"
	}
	targets := writeFile(tb, dir, "targets.pass", "pass-targets")
	snapshot := writeFile(tb, dir, "snapshot.pass", "pass-snapshot")
	s := fmt.Sprintf("notary:\n  url: %q\n  tls_ca: %q\n  trust_dir: %q\n  targets_passphrase: %q\n  snapshot_passphrase: %q\n",
		url, c.Notary.CAFile, trustDir, "file:"+targets, "file:"+snapshot)
	if c.TargetsKey != "" {
		s += "  targets_key: " + c.TargetsKey + "\n"
	}
	if c.Auth != "" {
		s += fmt.Sprintf("  auth: %q\n", c.Auth)
	}
	return s
}

// delegation is the i-th delegations entry, its defaults filled in.
func (c Ceremony) delegation(tb testing.TB, dir string, i int, d Delegation) string {
	tb.Helper()
	if d.GUN == "" && len(c.GUNs) > 0 {
		d.GUN = c.GUNs[0]
	}
	if d.Role == "" {
		d.Role = "targets/me"
	}
	if d.Cert == "" {
		d.Cert = writeFile(tb, dir, fmt.Sprintf("delegate%d.pub", i), string(PublicKeyPEM(tb, SoftKey(tb, keyspec.ECDSAP256).Public())))
	}
	if d.Paths == "" {
		d.Paths = "all"
	}
	docker := ""
	if d.Docker {
		docker = ", docker: true"
	}
	return fmt.Sprintf("  - {gun: %q, role: %q, cert: %q, paths: %s%s}\n", d.GUN, d.Role, d.Cert, d.Paths, docker)
}

// PublicKeyPEM is pub as a PUBLIC KEY block, as a delegate hands it over.
func PublicKeyPEM(tb testing.TB, pub crypto.PublicKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func writeFile(tb testing.TB, dir, name, body string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

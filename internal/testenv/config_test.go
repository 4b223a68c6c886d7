package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

// TestCeremonyWrite: what Write writes is a config the ceremony loads, with
// the defaults and overrides where they belong.
func TestCeremonyWrite(t *testing.T) {
	// The files the config names must exist: it checks them.
	files := t.TempDir()
	hsmPub := writeFile(t, files, "hsm.pub", string(PublicKeyPEM(t, SoftKey(t, keyspec.ECDSAP256).Public())))
	tok := Token{Module: "/lib/p11.so", Label: "t1", PINFile: "/run/pin"}
	srv := &NotaryServer{URL: "https://127.0.0.1:4443", CAFile: writeFile(t, files, "ca.pem", "")}
	for _, tc := range []struct {
		name  string
		c     Ceremony
		check func(t *testing.T, cfg *config.Config)
	}{
		{"token and repositories", Ceremony{Token: tok, GUNs: []string{"docker.io/a/x", "docker.io/a/y"}}, func(t *testing.T, cfg *config.Config) {
			if cfg.HSM.Module != tok.Module || cfg.HSM.Token != tok.Label || cfg.HSM.PIN != "file:/run/pin" {
				t.Errorf("hsm %+v", cfg.HSM)
			}
			if len(cfg.Repositories) != 2 || cfg.Repositories[1].GUN != "docker.io/a/y" || cfg.Notary != nil {
				t.Errorf("repositories %+v, notary %+v", cfg.Repositories, cfg.Notary)
			}
			if cfg.OutputDir() != filepath.Join(cfg.Dir, "out") {
				t.Errorf("output %s", cfg.OutputDir())
			}
		}},
		{"PIN source and extra YAML", Ceremony{Token: tok, PIN: "env:P", GUNs: []string{"docker.io/a/x"}, Extra: "ca: {days: 100}\n"}, func(t *testing.T, cfg *config.Config) {
			if cfg.HSM.PIN != "env:P" || cfg.CA.Days != 100 {
				t.Errorf("pin %q, ca days %d", cfg.HSM.PIN, cfg.CA.Days)
			}
		}},
		{"notary and a default delegation", Ceremony{Token: tok, GUNs: []string{"docker.io/a/x"}, Notary: srv, Delegations: []Delegation{{}}}, func(t *testing.T, cfg *config.Config) {
			n := cfg.Notary
			if n.URL != srv.URL || n.TLSCA != srv.CAFile || cfg.Path(n.TrustDir) != filepath.Join(cfg.Dir, "trust") || n.TargetsKey != nil {
				t.Errorf("notary %+v", n)
			}
			if b, err := os.ReadFile(strings.TrimPrefix(n.TargetsPassphrase, "file:")); err != nil || len(b) == 0 {
				t.Errorf("targets passphrase file: %q, %v", b, err)
			}
			d := cfg.Delegations[0]
			if len(cfg.Delegations) != 1 || d.GUN != "docker.io/a/x" || d.Role != "targets/me" || !d.Paths.All {
				t.Fatalf("delegations %+v", cfg.Delegations)
			}
			if b, err := os.ReadFile(cfg.Path(d.Cert)); err != nil || !strings.Contains(string(b), "PUBLIC KEY") {
				t.Errorf("delegate key %s: %v", d.Cert, err)
			}
		}},
		{"notary overrides and an explicit delegation", Ceremony{Token: tok, GUNs: []string{"docker.io/a/x"}, Notary: srv,
			URL: "https://127.0.0.1:1", TrustDir: "/elsewhere/trust", TargetsKey: "{label: targets}",
			Delegations: []Delegation{{GUN: "docker.io/a/x", Role: "targets/hsm", Cert: hsmPub, Paths: "[releases/]"}}},
			func(t *testing.T, cfg *config.Config) {
				n := cfg.Notary
				if n.URL != "https://127.0.0.1:1" || n.TrustDir != "/elsewhere/trust" || n.TargetsKey == nil || n.TargetsKey.Label != "targets" {
					t.Errorf("notary %+v", n)
				}
				d := cfg.Delegations[0]
				if d.Role != "targets/hsm" || d.Cert != hsmPub || d.Paths.All || len(d.Paths.List) != 1 || d.Paths.List[0] != "releases/" {
					t.Errorf("delegation %+v", d)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.c.Write(t)
			cfg, err := config.Load(path)
			if err != nil {
				raw, _ := os.ReadFile(path)
				t.Fatalf("%v\n%s", err, raw)
			}
			tc.check(t, cfg)
		})
	}
}

package steps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
)

func planConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "me.pub"), []byte("x"), 0o644)
	cfg, err := config.Parse([]byte("hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/x}, {gun: docker.io/a/y}]\n"+extra), dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPlanShape(t *testing.T) {
	notary := "notary: {url: 'https://n', trust_dir: t, targets_passphrase: env:T, snapshot_passphrase: env:S}\n"
	tests := []struct {
		name, extra, want string
	}{
		{"certificates only", "", "preflight ca root repo:docker.io/a/x repo:docker.io/a/y"},
		{"with notary", notary + "delegations: [{gun: docker.io/a/y, role: targets/me, cert: me.pub, paths: all}]\n",
			"preflight ca root repo:docker.io/a/x repo:docker.io/a/y notary-init:docker.io/a/x snapshot:docker.io/a/x " +
				"notary-init:docker.io/a/y snapshot:docker.io/a/y delegation:docker.io/a/y:targets/me"},
		{"targets key in the token", strings.Replace(notary, "trust_dir: t,", "trust_dir: t, targets_key: {label: tk},", 1),
			"preflight ca root targets-key repo:docker.io/a/x repo:docker.io/a/y notary-init:docker.io/a/x snapshot:docker.io/a/x " +
				"notary-init:docker.io/a/y snapshot:docker.io/a/y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(planConfig(t, tc.extra))
			if got := strings.Join(p.StepIDs(), " "); got != tc.want {
				t.Fatalf("plan %q\nwant %q", got, tc.want)
			}
			for _, s := range p.Steps {
				if s.Title == "" || s.Explain == "" || len(s.Seed) == 0 || s.run == nil {
					t.Errorf("step %s lacks a title, explanation, seed commands or run", s.ID)
				}
			}
			if d := p.Describe(); !strings.Contains(d, "replaces: openssl ca") || !strings.Contains(d, "(ca, irreversible)") ||
				strings.Contains(d, "(repo:docker.io/a/x, irreversible)") {
				t.Errorf("Describe lacks the seed commands or the irreversible marks:\n%s", d)
			}
		})
	}
}

// TestPreconditions: each step that builds on others refuses to run before
// they finished, and accepts once they have.
func TestPreconditions(t *testing.T) {
	cfg := planConfig(t, "notary: {url: 'https://n', trust_dir: t, targets_passphrase: env:T, snapshot_passphrase: env:S}\n"+
		"delegations: [{gun: docker.io/a/y, role: targets/me, cert: me.pub, paths: all}]\n")
	p := NewPlan(cfg)
	st := &State{done: map[string]bool{}}
	for _, s := range p.Steps {
		if s.check == nil {
			if s.ID != "preflight" {
				t.Errorf("step %s has no precondition", s.ID)
			}
			continue
		}
		if err := s.check(st); err == nil {
			t.Errorf("step %s: precondition holds on an empty state", s.ID)
		}
	}
	for _, s := range p.Steps {
		st.done[s.ID] = true
	}
	for _, s := range p.Steps {
		if s.check == nil || s.ID == "ca" || s.ID == "root" {
			continue // these need a live session
		}
		if err := s.check(st); err != nil {
			t.Errorf("step %s: precondition fails with everything done: %v", s.ID, err)
		}
	}
}

// TestPlanSeedFollowsConfig: the script witnesses read says what this config
// will do, not the seed's defaults.
func TestPlanSeedFollowsConfig(t *testing.T) {
	p := NewPlan(planConfig(t, "ca: {label: myca, key: rsa-3072, days: 4000, subject: \"CN=Acme Notary CA\"}\nroot: {days: 200}\n"+
		"notary: {url: 'https://n', trust_dir: t, targets_passphrase: env:T, snapshot_passphrase: env:S}\n"+
		"delegations: [{gun: docker.io/a/y, role: targets/me, cert: me.pub, paths: [releases/, beta/]}]\n"))
	d := p.Describe()
	for _, want := range []string{"ucl generate -t RSA -n myca", "openssl req -x509 -days 4000", `-subj "CN=Acme Notary CA"`,
		"ucl import --name myca", "openssl x509 -req -sha256 -days 200", "--paths releases/,beta/ -p"} {
		if !strings.Contains(d, want) {
			t.Errorf("plan lacks %q:\n%s", want, d)
		}
	}
	for _, bad := range []string{"-t ECC -n myca", "-days 7300", "--all-paths"} {
		if strings.Contains(d, bad) {
			t.Errorf("plan says %q, which this config does not do", bad)
		}
	}
}

func TestFingerprint(t *testing.T) {
	// SHA-256 of "abc", in the grouping witnesses read aloud.
	if got, want := Fingerprint([]byte("abc")), "BA78 16BF 8F01 CFEA 4141 40DE 5DAE 2223 B003 61A3 9617 7A9C B410 FF61 F200 15AD"; got != want {
		t.Fatalf("Fingerprint = %q, want %q", got, want)
	}
}

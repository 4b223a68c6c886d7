package steps

import (
	"os"
	"path/filepath"
	"slices"
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

const planNotary = "notary: {url: 'https://n', trust_dir: t, targets_passphrase: env:T, snapshot_passphrase: env:S}\n"

func joinIDs(ids []ID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, " ")
}

func TestPlanShape(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"certificates only", "", "preflight ca transcript-key root repo:docker.io/a/x repo:docker.io/a/y"},
		{"with notary", planNotary + "delegations: [{gun: docker.io/a/y, role: targets/me, cert: me.pub, paths: all}]\n",
			"preflight ca transcript-key root repo:docker.io/a/x repo:docker.io/a/y notary-init:docker.io/a/x snapshot:docker.io/a/x " +
				"notary-init:docker.io/a/y snapshot:docker.io/a/y delegation:docker.io/a/y:targets/me"},
		{"targets key in the token", strings.Replace(planNotary, "trust_dir: t,", "trust_dir: t, targets_key: {label: tk},", 1),
			"preflight ca transcript-key root targets-key repo:docker.io/a/x repo:docker.io/a/y notary-init:docker.io/a/x snapshot:docker.io/a/x " +
				"notary-init:docker.io/a/y snapshot:docker.io/a/y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(planConfig(t, tc.extra))
			if got := joinIDs(p.StepIDs()); got != tc.want {
				t.Fatalf("plan %q\nwant %q", got, tc.want)
			}
			checkDeclarations(t, p)
		})
	}
}

// checkDeclarations holds every plan to what the runner relies on, and
// each step to what the plan shows.
func checkDeclarations(t *testing.T, p *Plan) {
	t.Helper()
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if s.Title == "" || s.Explain == "" || len(s.Seed) == 0 || (s.run == nil && s.summary == nil) {
			t.Errorf("step %s lacks a title, explanation, seed commands, or a run or summary", s.ID)
		}
		for _, k := range s.Keys {
			if k.Role == "" {
				t.Errorf("step %s: key %q has no role", s.ID, k.Label)
			}
		}
	}
}

// TestPreconditions: each step that builds on others refuses to run before
// they finished, and accepts once they have.
func TestPreconditions(t *testing.T) {
	cfg := planConfig(t, planNotary+"delegations: [{gun: docker.io/a/y, role: targets/me, cert: me.pub, paths: all}]\n")
	p := NewPlan(cfg)
	st := &State{hist: newHistory()}
	for _, s := range p.Steps[1:] {
		if err := st.ready(&s); err == nil {
			t.Errorf("step %s: precondition holds without a token session", s.ID)
		}
	}
	for _, s := range p.Steps[1:] {
		if len(s.Needs) == 0 {
			continue
		}
		for _, n := range s.Needs {
			st.hist.done[n] = true
		}
		missing := s.Needs[len(s.Needs)-1]
		delete(st.hist.done, missing)
		if err := st.ready(&s); err == nil || !strings.Contains(err.Error(), string(missing)) {
			t.Errorf("step %s: precondition with %s unfinished: %v", s.ID, missing, err)
		}
	}
}

// TestPlanSeedFollowsConfig: the script witnesses read says what this config
// will do, not the seed's defaults.
func TestPlanSeedFollowsConfig(t *testing.T) {
	p := NewPlan(planConfig(t, "ca: {label: myca, key: rsa-3072, days: 4000, subject: \"CN=Acme Notary CA\"}\nroot: {days: 200}\n"+
		planNotary+"delegations: [{gun: docker.io/a/y, role: targets/me, cert: me.pub, paths: [releases/, beta/]}]\n"))
	var seed []string
	for _, s := range p.Steps {
		seed = append(seed, s.Seed...)
	}
	all := strings.Join(seed, "\n")
	for _, want := range []string{"ucl generate -t RSA -n myca", "openssl req -x509 -days 4000", `-subj "CN=Acme Notary CA"`,
		"ucl import --name myca", "openssl x509 -req -sha256 -days 200", "--paths releases/,beta/ -p"} {
		if !strings.Contains(all, want) {
			t.Errorf("plan lacks %q:\n%s", want, all)
		}
	}
	for _, bad := range []string{"-t ECC -n myca", "-days 7300", "--all-paths"} {
		if strings.Contains(all, bad) {
			t.Errorf("plan says %q, which this config does not do", bad)
		}
	}
}

// TestPlanDockerSigner: a docker signer's step says, to the witnesses and
// in the transcript's inputs, that the key goes in targets/releases too.
func TestPlanDockerSigner(t *testing.T) {
	for _, tc := range []struct {
		entry, seed string
		roles       any
	}{
		{"{gun: docker.io/a/y, role: targets/me, cert: me.pub, paths: all}",
			"notary delegation add docker.io/a/y targets/me me.pub --all-paths -p", nil},
		{"{gun: docker.io/a/y, role: targets/me, cert: me.pub, paths: all, docker: true}",
			"notary delegation add docker.io/a/y targets/releases me.pub --all-paths -p\nnotary delegation add docker.io/a/y targets/me me.pub --all-paths -p",
			[]string{"targets/releases", "targets/me"}},
		{"{gun: docker.io/a/y, role: targets/releases, cert: me.pub, paths: all, docker: true}",
			"notary delegation add docker.io/a/y targets/releases me.pub --all-paths -p", []string{"targets/releases"}},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			p := NewPlan(planConfig(t, planNotary+"delegations: ["+tc.entry+"]\n"))
			s := p.Steps[len(p.Steps)-1]
			if got := strings.Join(s.Seed, "\n"); got != tc.seed {
				t.Errorf("seed %q\nwant %q", got, tc.seed)
			}
			if roles, ok := s.Inputs["roles"]; (tc.roles == nil) != !ok || (ok && !slices.Equal(roles.([]string), tc.roles.([]string))) {
				t.Errorf("inputs %v, want roles %v", s.Inputs, tc.roles)
			}
			checkDeclarations(t, p)
		})
	}
}

// TestPlanDerivedLists: what preflight checks comes from the declarations.
func TestPlanDerivedLists(t *testing.T) {
	p := NewPlan(planConfig(t, strings.Replace(planNotary, "trust_dir: t,", "trust_dir: t, targets_key: {label: tk, key: rsa-3072},", 1)))
	var labels []string
	for _, k := range p.Keys() {
		labels = append(labels, k.Label+"="+string(k.Type))
	}
	if got := strings.Join(labels, " "); got != "ca=ecdsa-p256 transcript=ecdsa-p256 root=ecdsa-p256 tk=rsa-3072" {
		t.Errorf("keys %s", got)
	}
	var secrets []string
	for _, s := range p.Secrets() {
		secrets = append(secrets, s.Field)
	}
	if !slices.Equal(secrets, []string{"notary.snapshot_passphrase"}) {
		t.Errorf("secrets %v: with the targets key in the token only the snapshot passphrase is read", secrets)
	}
	if got := strings.Join(p.Published(), " "); got != "docker.io/a/x docker.io/a/y" {
		t.Errorf("published %s", got)
	}
	var certs []string
	for _, c := range p.Certs() {
		certs = append(certs, c.File)
	}
	if got := strings.Join(certs, " "); got != "ca.pem transcript.pem root.crt repos/docker.io_a_x.pem repos/docker.io_a_y.pem" {
		t.Errorf("certificates %s", got)
	}
}

func TestBuildUnknownKind(t *testing.T) {
	if _, err := Build("renewal-of-everything", planConfig(t, "")); err == nil || !strings.Contains(err.Error(), "unknown ceremony kind") {
		t.Fatalf("Build: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	// SHA-256 of "abc", in the grouping witnesses read aloud.
	if got, want := Fingerprint([]byte("abc")), "BA78 16BF 8F01 CFEA 4141 40DE 5DAE 2223 B003 61A3 9617 7A9C B410 FF61 F200 15AD"; got != want {
		t.Fatalf("Fingerprint = %q, want %q", got, want)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/newfile"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/transcript"
)

// headless is the cmd tests' ceremony: tok's PIN from CEREMONY_TEST_PIN
// (pinEnv), one repository.
func headless(tok testenv.Token) testenv.Ceremony {
	return testenv.Ceremony{Token: tok, PIN: "env:CEREMONY_TEST_PIN", GUNs: []string{"docker.io/alice/nginx"}}
}

func pinEnv(tok testenv.Token) []string { return []string{"CEREMONY_TEST_PIN=" + tok.PIN} }

func TestRunHeadless(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	cfg := headless(tok).Write(t)
	r := ceremony(t, pinEnv(tok), "run", "--config", cfg, "--non-interactive")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"[0/4] Preflight done", "[1/4] Create the CA done", "[2/4] Create the transcript key done",
		"[3/4] Create the root key done", "[4/4] Repository certificate for docker.io/alice/nginx done", "ceremony finished"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	out := filepath.Join(filepath.Dir(cfg), "out")
	testenv.OpenSSL(t, "verify", "-CAfile", filepath.Join(out, "ca.pem"), filepath.Join(out, "repos", "docker.io_alice_nginx.pem"))
	if strings.Contains(r.stdout+r.stderr, tok.PIN) || transcriptContains(t, filepath.Join(out, transcript.FileName), tok.PIN) {
		t.Fatal("the PIN leaked into the output or the transcript")
	}

	r = ceremony(t, pinEnv(tok), "run", "--config", cfg, "--non-interactive")
	if r.code == 0 || !strings.Contains(r.stderr, "has finished") {
		t.Fatalf("second run: exit %d %s", r.code, r.stderr)
	}
}

func TestRunBadInput(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	wrongPIN := []string{"CEREMONY_TEST_PIN=not-" + tok.PIN}
	tests := []struct {
		name  string
		extra string
		env   []string
		want  string
	}{
		{"wrong PIN", "", wrongPIN, "wrong PIN"},
		{"unset PIN variable", "", nil, "CEREMONY_TEST_PIN is not set"},
		{"days out of range", "ca: {days: 100000}\n", pinEnv(tok), "ca.days: 100000 days is out of range"},
		{"unknown key type", "root: {key: ed448}\n", pinEnv(tok), "root.key: unknown key type \"ed448\""},
		{"unknown config key", "colour: red\n", pinEnv(tok), `unknown key "colour"; the keys here are hsm,`},
		{"unknown token", "", pinEnv(tok), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := headless(tok)
			c.Extra = tc.extra
			want := tc.want
			if tc.name == "unknown token" {
				c.Token.Label = "nosuchtoken"
				want = "no token labelled \"nosuchtoken\""
			}
			cfg := c.Write(t)
			r := ceremony(t, tc.env, "run", "--config", cfg, "--non-interactive")
			if r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Fatalf("exit %d, stderr %q; want 1 and %q", r.code, r.stderr, want)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "out")); !os.IsNotExist(err) {
				t.Fatal("bad input left an output directory")
			}
		})
	}
	// None of it made a key.
	objs, err := tok.Session(t).Objects(context.Background())
	if err != nil || len(objs) != 0 {
		t.Fatalf("token holds %d objects after bad input (%v)", len(objs), err)
	}
}

// TestKillAndResume kills the ceremony with SIGKILL at each hook point inside
// the certificate steps, then runs it again: it must finish, and the token
// must hold exactly one CA and one root key pair.
func TestKillAndResume(t *testing.T) {
	t.Parallel()
	killer := killhookBinary(t)
	repo := "repo:docker.io/alice/nginx"
	points := []string{
		"ca:before-generate-ca", "ca:after-generate-ca", "ca:before-issue-ca.pem", "ca:tmp-written-ca.pem", "ca:after-write-ca.pem", "ca:after-store-ca", "ca:after-record",
		"preflight:before-generate-transcript", "preflight:after-generate-transcript", "transcript-key:before-issue-transcript.pem",
		"transcript-key:after-write-transcript.pem", "transcript-key:after-store-transcript", "transcript-key:after-record",
		"root:before-generate-root", "root:after-generate-root", "root:after-write-root.csr", "root:before-issue-root.crt",
		"root:after-write-root.crt", "root:after-store-root", "root:after-record",
		repo + ":after-write-repos/docker.io_alice_nginx.csr", repo + ":before-issue-repos/docker.io_alice_nginx.pem",
		repo + ":tmp-written-repos/docker.io_alice_nginx.pem",
		repo + ":after-write-repos/docker.io_alice_nginx.pem", repo + ":after-record",
	}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			cfg := headless(tok).Write(t)
			cmd := exec.Command(killer, "run", "--config", cfg, "--non-interactive")
			cmd.Env = append(append(os.Environ(), pinEnv(tok)...), "CEREMONY_KILL_AT="+point)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
				t.Fatalf("the run was not killed at %s (%v):\n%s", point, err, out)
			}
			r := ceremony(t, pinEnv(tok), "run", "--config", cfg, "--non-interactive")
			if r.code != 0 {
				t.Fatalf("resume after kill at %s: exit %d\n%s\n%s", point, r.code, r.stdout, r.stderr)
			}
			outDir := filepath.Join(filepath.Dir(cfg), "out")
			testenv.OpenSSL(t, "verify", "-CAfile", filepath.Join(outDir, "ca.pem"), filepath.Join(outDir, "repos", "docker.io_alice_nginx.pem"))
			objs, err := tok.Session(t).Objects(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, o := range objs {
				count[o.Label+"/"+o.Class]++
			}
			for _, label := range []string{"ca", "transcript", "root"} {
				for _, class := range []string{"private-key", "public-key", "certificate"} {
					if count[label+"/"+class] != 1 {
						t.Fatalf("after kill at %s the token holds %d %s %s objects: %v", point, count[label+"/"+class], label, class, count)
					}
				}
			}
			filepath.WalkDir(outDir, func(p string, d os.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), newfile.TempPrefix) {
					t.Fatalf("half-written file left: %s", p)
				}
				return nil
			})
			// The journal reads back whole, records one intent per key and
			// ends sealed.
			entries, err := transcript.Read(filepath.Join(outDir, transcript.FileName))
			if err != nil {
				t.Fatal(err)
			}
			intents := 0
			for _, e := range entries {
				if e.Kind == transcript.KindIntent {
					intents++
				}
			}
			if intents != 2 || entries[len(entries)-1].Kind != transcript.KindSeal {
				t.Fatalf("journal after kill at %s: %d intents, last entry %s", point, intents, entries[len(entries)-1].Kind)
			}
			// And an auditor, holding only ca.pem, finds it whole.
			verifies(t, outDir)
		})
	}
}

// transcriptContains decodes every entry (payloads are base64) and searches
// its inputs, results, error and inlined artifacts for s.
func transcriptContains(t *testing.T, path, s string) bool {
	t.Helper()
	entries, err := transcript.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 5 {
		t.Fatalf("transcript has %d entries", len(entries))
	}
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), s) || strings.Contains(e.Error, s) {
			return true
		}
		for _, sub := range e.Subjects {
			if strings.Contains(string(sub.Content), s) {
				return true
			}
		}
	}
	return false
}

// TestKillAndResumeNotary kills the ceremony right after each Notary publish
// (before the journal records it) and after a recorded step: the next run
// finds what the server already has and finishes without publishing twice.
func TestKillAndResumeNotary(t *testing.T) {
	t.Parallel()
	killer := killhookBinary(t)
	srv := testenv.NotaryServerT(t)
	gun := "docker.io/alice/nginx"
	for i, point := range []string{
		"notary-init:" + gun + ":after-publish", "notary-init:" + gun + ":after-record",
		"snapshot:" + gun + ":after-publish", "delegation:" + gun + ":targets/me:after-publish",
	} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			g := fmt.Sprintf("docker.io/alice/nginx%d", i)
			tok := testenv.NewToken(t)
			c := headless(tok)
			c.GUNs, c.Notary, c.Delegations = []string{g}, srv, []testenv.Delegation{{}}
			cfg := c.Write(t)
			killAt := strings.Replace(point, gun, g, 1)

			cmd := exec.Command(killer, "run", "--config", cfg, "--non-interactive")
			cmd.Env = append(append(os.Environ(), pinEnv(tok)...), "CEREMONY_KILL_AT="+killAt)
			out, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
				t.Fatalf("the run was not killed at %s (%v):\n%s", killAt, err, out)
			}
			r := ceremony(t, pinEnv(tok), "run", "--config", cfg, "--non-interactive")
			if r.code != 0 {
				t.Fatalf("resume after kill at %s: exit %d\n%s\n%s", killAt, r.code, r.stdout, r.stderr)
			}
			pin := filepath.Join(filepath.Dir(cfg), "out", "ca.pem")
			if out := testenv.NotaryCLI(t, srv, pin, g)("delegation", "list", g); !strings.Contains(out, "targets/me") {
				t.Fatalf("after resume the delegation is missing:\n%s", out)
			}
			// Nothing was published twice: root.json is v1 (init) + v2
			// (snapshot rotation), and the resumed step knew it was done.
			raw, code, err := srv.Get(context.Background(), "/v2/"+g+"/_trust/tuf/root.json")
			var root struct{ Signed struct{ Version int } }
			if err != nil || code != 200 || json.Unmarshal(raw, &root) != nil || root.Signed.Version != 2 {
				t.Fatalf("root.json after resume: status %d, version %d, %v", code, root.Signed.Version, err)
			}
			if strings.HasSuffix(killAt, ":after-publish") && !strings.Contains(r.stdout, "already") {
				t.Fatalf("the resumed run did not recognise the publish it was killed after:\n%s", r.stdout)
			}
			verifies(t, filepath.Join(filepath.Dir(cfg), "out"))
			// No secret in any output: the PIN and both notary passphrases.
			for _, secret := range []string{tok.PIN, "pass-targets", "pass-snapshot"} {
				if strings.Contains(string(out)+r.stdout+r.stderr, secret) || transcriptContains(t, filepath.Join(filepath.Dir(cfg), "out", transcript.FileName), secret) {
					t.Fatalf("a secret (%q) leaked into the output or the transcript", secret)
				}
			}
		})
	}
}

var killhook struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// killhookBinary builds, once per test run, the ceremony binary with the
// test-only hook that SIGKILLs itself at CEREMONY_KILL_AT.
func killhookBinary(t *testing.T) string {
	t.Helper()
	killhook.once.Do(func() {
		killhook.path = filepath.Join(filepath.Dir(binary), "ceremony-killhook")
		killhook.out, killhook.err = exec.Command("go", "build", "-tags", "killhook", "-o", killhook.path, ".").CombinedOutput()
	})
	if killhook.err != nil {
		t.Fatalf("build killhook binary: %v\n%s", killhook.err, killhook.out)
	}
	return killhook.path
}

// TestPlanFormats: --plan prints the script in each format without touching
// the token or the output directory; a bad --format is a usage error.
func TestPlanFormats(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	cfg := headless(tok).Write(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--plan"}, 0, "1. Create the CA (ca, irreversible)"},
		{[]string{"--plan", "--format", "md"}, 0, "## 2. Create the transcript key (irreversible)"},
		{[]string{"--plan", "--format", "json"}, 0, `"id": "transcript-key"`},
		{[]string{"--plan", "--format", "pdf"}, 2, `--format "pdf": use one of text, json, md`},
		{[]string{"--format", "md"}, 2, "--format applies to --plan only"},
	} {
		r := ceremony(t, nil, append([]string{"run", "--config", cfg}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
			t.Errorf("run %v: exit %d, want %d with %q\n%s%s", tc.args, r.code, tc.code, tc.want, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "out")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("--plan created the output directory")
	}
	if objs, _ := tok.Session(t).Objects(context.Background()); len(objs) != 0 {
		t.Fatalf("--plan made %d objects", len(objs))
	}
}

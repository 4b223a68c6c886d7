package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/transcript"
)

// TestRunRefusesAtPreflight: mistakes only the token or the secrets can
// show (a wrong serial, a passphrase shorter than notary allows) stop the
// run in preflight, before the first key: the refusal names the mistake,
// the token stays empty and no journal exists.
func TestRunRefusesAtPreflight(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	short := filepath.Join(t.TempDir(), "short.pass")
	if err := os.WriteFile(short, []byte("1234567\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*testenv.Ceremony)
		want string
	}{
		{"wrong token serial", nil, `with serial "0000feedbeef"`},
		{"short snapshot passphrase", func(c *testenv.Ceremony) {
			c.Notary = nil
			c.Extra = "notary: {url: " + srv.URL + ", tls_ca: " + srv.CAFile + ", trust_dir: trust, targets_passphrase: file:" + short + ", snapshot_passphrase: file:" + short + "}\n"
		}, "notary.snapshot_passphrase: the passphrase is 7 characters; notary requires at least 8: choose a longer one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			c := testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/alice/nginx"}, Notary: srv}
			if tc.edit != nil {
				tc.edit(&c)
			}
			cfg := c.Write(t)
			if tc.edit == nil {
				withSerial(t, cfg, "0000feedbeef")
			}
			r := ceremony(t, nil, "run", "--config", cfg, "--non-interactive")
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want a refusal with %q", r.code, r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, "1234567") {
				t.Fatal("the refusal shows the passphrase")
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "out", transcript.FileName)); !os.IsNotExist(err) {
				t.Errorf("a journal exists after the refusal (%v)", err)
			}
			if objs, err := tok.Session(t).Objects(context.Background()); err != nil || len(objs) != 0 {
				t.Fatalf("the token holds %d objects after the refused run (%v)", len(objs), err)
			}
		})
	}
}

// withSerial adds hsm.serial to the config testenv wrote.
func withSerial(t *testing.T, cfg, serial string) {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "}\nrepositories:", ", serial: \""+serial+"\"}\nrepositories:", 1)
	if s == string(b) {
		t.Fatalf("no hsm line to add the serial to:\n%s", b)
	}
	if err := os.WriteFile(cfg, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestProblemsOnStderr: a refusal with several problems puts the count and
// every problem, one line each, on stderr, where errors go; stdout carries
// neither the list's head line alone ("preflight found 2 problems:") nor
// the count.
func TestProblemsOnStderr(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	// Two preflight problems: the PIN's variable is not set, and the output
	// directory holds a stranger's file.
	preflight := func(t *testing.T) string {
		cfg := headless(tok).Write(t)
		out := filepath.Join(filepath.Dir(cfg), "out")
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	badConfig := func(t *testing.T) string {
		c := headless(tok)
		c.GUNs, c.Extra = []string{"Docker.io/a/b"}, "colour: red\n"
		return c.Write(t)
	}
	for _, tc := range []struct {
		name   string
		config func(*testing.T) string
		args   []string
		want   []string // the lines of stderr, each holding one
	}{
		{"run --non-interactive, preflight", preflight, []string{"run", "--non-interactive"},
			[]string{"ceremony: preflight found 2 problems:", "  - output: ", "  - hsm.pin: environment variable CEREMONY_TEST_PIN is not set"}},
		{"run --plain, preflight", preflight, []string{"run", "--plain"},
			[]string{"ceremony: preflight found 2 problems:", "  - output: ", "  - hsm.pin: environment variable CEREMONY_TEST_PIN is not set"}},
		{"run --non-interactive, config", badConfig, []string{"run", "--non-interactive"},
			[]string{`unknown key "colour"`, `repositories[0].gun: GUN "Docker.io/a/b"`}},
		{"validate, config", func(t *testing.T) string {
			c := headless(tok)
			c.Extra = "colour: red\nroot: {lable: x}\n"
			return c.Write(t)
		}, []string{"validate", "--gun", "docker.io/a/b", "--tag", "v1", "--image", "x"},
			[]string{`unknown key "colour"`, `unknown key "lable" (did you mean "label"?)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ceremony(t, nil, append(tc.args, "--config", tc.config(t))...)
			if r.code == 0 {
				t.Fatalf("accepted:\n%s", r.stdout)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(tc.want), r.stderr)
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("stderr line %d %q, want it to hold %q", i+1, lines[i], w)
				}
			}
			for _, l := range strings.Split(r.stdout, "\n") {
				if strings.HasSuffix(strings.TrimSpace(l), ":") || strings.Contains(l, "2 problems") {
					t.Errorf("stdout carries half a message: %q", l)
				}
			}
		})
	}
}

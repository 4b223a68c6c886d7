package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// TestBadFlagsAndPaths runs every command with one mistake in its flags or
// the paths it is given: each is refused with one line on stderr that names
// the mistake, a non-zero status, and no file written. Paths cover the
// ways a path goes wrong: missing, a directory, a FIFO (which would block
// the open), a device (/dev/zero would be read until memory ran out), a
// dangling symlink. (Config values: refuse_test.go and config's tests.)
func TestBadFlagsAndPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	junk := p("junk")
	if err := os.WriteFile(junk, []byte("not a transcript\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{syscall.Mkfifo(p("fifo"), 0o600), os.Mkdir(p("dir"), 0o755), os.Symlink(p("gone"), p("dangling"))} {
		if err != nil {
			t.Fatal(err)
		}
	}
	testenv.OpenSSL(t, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("ca.key"), "-subj", "/CN=x", "-out", p("ca.pem"))
	server := []string{"--server", "https://127.0.0.1:1", "--trust-dir", p("trust"), "--ca", p("ca.pem")}
	sign := func(more ...string) []string {
		args := append([]string{"sign", "--gun", "docker.io/alice/nginx", "--role", "targets/me", "--tag", "v1"}, server...)
		return append(args, more...)
	}
	good := testenv.Ceremony{Token: testenv.NewToken(t), GUNs: []string{"docker.io/alice/nginx"}}.Write(t)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"verify: no transcript", []string{"verify", "--ca", p("ca.pem")}, 2, "verify takes one transcript file, got 0 arguments"},
		{"verify: transcript missing", []string{"verify", "--ca", p("ca.pem"), p("nope")}, 2, "transcript: stat " + p("nope") + ": no such file or directory"},
		{"verify: transcript a directory", []string{"verify", "--ca", p("ca.pem"), p("dir")}, 2, "transcript: " + p("dir") + " is a directory; give a file"},
		{"verify: transcript a FIFO", []string{"verify", "--ca", p("ca.pem"), p("fifo")}, 2, "transcript: " + p("fifo") + " is a FIFO, not a regular file; give a file"},
		{"verify: transcript a device", []string{"verify", "--ca", p("ca.pem"), "/dev/zero"}, 2, "transcript: /dev/zero is a device, not a regular file"},
		{"verify: transcript a dangling symlink", []string{"verify", "--ca", p("ca.pem"), p("dangling")}, 2, "transcript: stat " + p("dangling") + ": no such file or directory"},
		{"verify: no --ca", []string{"verify", junk}, 2, "--ca is required: the CA certificate is the only trust anchor"},
		{"verify: --ca a device", []string{"verify", "--ca", "/dev/zero", junk}, 2, "--ca: /dev/zero is a device, not a regular file"},
		{"verify: --ca a FIFO", []string{"verify", "--ca", p("fifo"), junk}, 2, "--ca: " + p("fifo") + " is a FIFO"},
		{"verify: --ca not a certificate", []string{"verify", "--ca", junk, junk}, 2, "--ca " + junk + ":"},
		{"verify: negative witnesses", []string{"verify", "--ca", p("ca.pem"), "--require-witnesses", "-1", junk}, 2, "--require-witnesses -1: give a count of witnesses"},
		{"verify: fractional witnesses", []string{"verify", "--ca", p("ca.pem"), "--require-witnesses", "1.5", junk}, 2, `invalid argument "1.5" for "--require-witnesses" flag`},
		{"verify: --artifacts a file", []string{"verify", "--ca", p("ca.pem"), "--artifacts", junk, junk}, 2, "--artifacts " + junk + ": not a directory"},
		{"report: unknown format", []string{"report", "--ca", p("ca.pem"), "--format", "pdf", junk}, 2, `--format "pdf": use one of md, html`},
		{"report: transcript a FIFO", []string{"report", "--ca", p("ca.pem"), "-o", p("report.md"), p("fifo")}, 2, "is a FIFO"},
		{"replay: transcript a directory", []string{"replay", p("dir")}, 2, p("dir") + " is a directory"},
		{"replay: transcript a device", []string{"replay", "/dev/zero"}, 2, "/dev/zero is a device"},
		{"witness sign: transcript a FIFO", []string{"witness", "sign", "--key", junk, p("fifo")}, 2, "is a FIFO"},
		{"witness sign: literal passphrase", []string{"witness", "sign", "--key", junk, "--key-passphrase", "hunter22", junk}, 2, "--key-passphrase: secret source: use env:NAME, file:PATH or prompt"},
		{"witness merge: one copy", []string{"witness", "merge", junk, "-o", p("merged")}, 2, "witness merge takes two transcript files, got 1 arguments"},
		{"witness merge: a directory", []string{"witness", "merge", junk, p("dir"), "-o", p("merged")}, 2, p("dir") + " is a directory"},
		{"run: config a FIFO", []string{"run", "--config", p("fifo"), "--plan"}, 1, "read config: " + p("fifo") + " is a FIFO, not a regular file"},
		{"run: config a device", []string{"run", "--config", "/dev/zero", "--non-interactive"}, 1, "read config: /dev/zero is a device"},
		{"run: config a directory", []string{"run", "--config", p("dir"), "--plan"}, 1, "read config: " + p("dir") + " is a directory"},
		{"run: config a dangling symlink", []string{"run", "--config", p("dangling"), "--plan"}, 1, "read config: stat " + p("dangling") + ": no such file or directory"},
		{"run: no config off a terminal", []string{"run", "--non-interactive"}, 2, "--config is required unless stdin and stdout are a terminal"},
		{"run: unknown plan format", []string{"run", "--config", good, "--plan", "--format", "yaml"}, 2, `--format "yaml": use one of text, json, md`},
		{"run: format without plan", []string{"run", "--config", good, "--format", "json"}, 2, "--format applies to --plan only"},
		{"run: misspelt flag", []string{"run", "--config", good, "--non-interactiv"}, 2, "unknown flag: --non-interactiv"},
		{"run: a stray argument", []string{"run", "--config", good, "extra"}, 2, `unknown command "extra" for "ceremony run"`},
		{"demo: misspelt flag", []string{"demo", "--non-interactve"}, 2, "unknown flag: --non-interactve"},
		{"hsm list: module a directory", []string{"hsm", "list", "--module", p("dir")}, 1, "is a directory, not a shared library"},
		{"hsm list: token with a control character", []string{"hsm", "list", "--token", "evil\x1b[2J"}, 1, `no token labelled "evil\x1b[2J"`},
		{"hsm list: literal PIN", []string{"hsm", "list", "--token", "x", "--pin", "12345678"}, 1, "use env:NAME, file:PATH or prompt"},
		{"sign: manifest a FIFO", sign("--manifest", p("fifo"), "--key", junk), 1, "manifest: " + p("fifo") + " is a FIFO"},
		{"sign: key a FIFO", sign("--manifest", junk, "--key", p("fifo")), 1, "delegate key: " + p("fifo") + " is a FIFO"},
		{"sign: key a directory", sign("--manifest", junk, "--key", p("dir")), 1, "delegate key: " + p("dir") + " is a directory"},
		{"sign: key not PEM", sign("--manifest", junk, "--key", junk), 1, "delegate key: no PEM block: the file is not a PEM private key"},
		{"sign: key a public key", sign("--manifest", junk, "--key", p("ca.pem")), 1, "delegate key: the file holds a CERTIFICATE, not the private key: give the private key file"},
		{"sign: both image and manifest", sign("--manifest", junk, "--image", "x", "--key", junk), 2, "give exactly one of --image REF and --manifest FILE"},
		{"validate: role-like GUN", append([]string{"validate", "--gun", "targets/me", "--tag", "v1", "--image", "x"}, server...), 2, `--gun: GUN "targets/me" is not fully qualified`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ceremony(t, nil, tc.args...)
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code != tc.code || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d, stderr %q\nwant exit %d and one line with %q", r.code, r.stderr, tc.code, tc.want)
			}
			if strings.Contains(r.stderr, "hunter22") || strings.Contains(r.stderr, "12345678") {
				t.Fatalf("the refusal shows a secret: %s", r.stderr)
			}
			if strings.ContainsRune(r.stderr, '\x1b') {
				t.Fatalf("the refusal holds a raw escape: %q", r.stderr)
			}
		})
	}
	// Nothing was written by any refusal.
	for _, made := range []string{"report.md", "merged", "trust"} {
		if _, err := os.Stat(p(made)); !os.IsNotExist(err) {
			t.Errorf("a refused command made %s (%v)", made, err)
		}
	}
}

// TestHSMListEscapes: a label another PKCS#11 client put on the token with
// control characters in it is listed quoted with Go escapes, so it can
// neither repaint the operator's terminal nor forge a row of the listing.
func TestHSMListEscapes(t *testing.T) {
	t.Parallel()
	tool := testenv.Tool(t, "pkcs11-tool")
	tok := testenv.NewToken(t)
	const evil = "evil\x1b[2J\nprivate-key fake"
	out, err := exec.Command(tool, "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN,
		"--keypairgen", "--key-type", "EC:prime256v1", "--label", evil, "--id", "0e").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool --keypairgen: %v\n%s", err, out)
	}
	r := ceremony(t, nil, "hsm", "list", "--token", tok.Label, "--pin", tok.PINSource())
	if r.code != 0 {
		t.Fatalf("hsm list: exit %d\n%s", r.code, r.stderr)
	}
	if strings.ContainsRune(r.stdout, '\x1b') || strings.Contains(r.stdout, "\nprivate-key fake") {
		t.Fatalf("the label reached the terminal raw:\n%q", r.stdout)
	}
	if strings.Count(r.stdout, `"evil\x1b[2J\nprivate-key fake"`) != 2 {
		t.Fatalf("the label is not shown escaped on both halves of the key pair:\n%s", r.stdout)
	}
}

// TestWitnessSignOpenSSLKeys: a key file OpenSSL 3 or the notary CLI wrote
// signs as it is, end to end (OpenSSL 3's default encryption, PBES2 with
// HMAC-SHA256, used to be reported as a wrong passphrase); a wrong
// passphrase is one line and leaves the transcript as it was.
func TestWitnessSignOpenSSLKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	const pass = "witness-pass-0815"
	testenv.OpenSSL(t, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:"+pass, "-out", p("openssl3.pem"))
	testenv.OpenSSL(t, "ec", "-in", p("openssl3.pem"), "-passin", "pass:"+pass, "-out", p("traditional.pem"))
	notary := exec.Command(testenv.Tool(t, "notary"), "-d", p("trust"), "key", "generate", "ecdsa", "--role", "targets/witness", "-o", p("notary"))
	notary.Env = append(os.Environ(), "NOTARY_DELEGATION_PASSPHRASE="+pass)
	if out, err := notary.CombinedOutput(); err != nil {
		t.Fatalf("notary key generate: %v\n%s", err, out)
	}
	env := []string{"CEREMONY_TEST_KEY_PASS=" + pass, "CEREMONY_TEST_WRONG_PASS=not-" + pass}
	for _, tc := range []struct {
		name, key, pass, want string
	}{
		{"openssl genpkey -aes256", p("openssl3.pem"), "env:CEREMONY_TEST_KEY_PASS", ""},
		{"traditional EC", p("traditional.pem"), "prompt", ""},
		{"notary key generate", p("notary-key.pem"), "env:CEREMONY_TEST_KEY_PASS", ""},
		{"wrong passphrase", p("openssl3.pem"), "env:CEREMONY_TEST_WRONG_PASS", "--key: delegate key: wrong passphrase: give the passphrase the key file was written with"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := sealedTranscript(t)
			before, _ := os.ReadFile(path)
			r := ceremony(t, env, "witness", "sign", path, "--key", tc.key, "--key-passphrase", tc.pass, "--name", "W")
			if strings.Contains(r.stdout+r.stderr, pass) {
				t.Fatal("the passphrase appears in the output")
			}
			if tc.want != "" {
				after, _ := os.ReadFile(path)
				if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tc.want) || string(after) != string(before) {
					t.Fatalf("exit %d, stderr %q; want one line with %q and the transcript unchanged", r.code, r.stderr, tc.want)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("witness sign: exit %d\n%s", r.code, r.stderr)
			}
			if v := verified(t, path); len(v.Witnesses) != 1 || v.Witnesses[0].Name != "W" {
				t.Fatalf("witnesses %+v", v.Witnesses)
			}
		})
	}
}

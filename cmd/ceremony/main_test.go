package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// binary is the ceremony command built once for the tests that run it as an
// operator would: a fresh process, its own C_Initialize.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ceremony-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ceremony")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build ceremony: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testenv.RunWithSoftHSM(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func ceremony(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// TestHSMListPKCS11ToolKeys: keys another PKCS#11 client put on the token are
// listed with their labels, IDs, types and attributes.
func TestHSMListPKCS11ToolKeys(t *testing.T) {
	t.Parallel()
	tool := testenv.Tool(t, "pkcs11-tool")
	tok := testenv.NewToken(t)
	for _, k := range []struct{ typ, label, id string }{
		{"EC:prime256v1", "witness-ec", "0a0b"},
		{"rsa:2048", "witness-rsa", "0c0d"},
	} {
		out, err := exec.Command(tool, "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN,
			"--keypairgen", "--key-type", k.typ, "--label", k.label, "--id", k.id).CombinedOutput()
		if err != nil {
			t.Fatalf("pkcs11-tool --keypairgen: %v\n%s", err, out)
		}
	}

	r := ceremony(t, nil, "hsm", "list", "--token", tok.Label, "--pin", tok.PINSource())
	if r.code != 0 {
		t.Fatalf("hsm list: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"token \"" + tok.Label + "\"", "SoftHSM project",
		"sensitive, always sensitive, never extractable, local", "4 objects (logged in)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("hsm list output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, row := range [][]string{
		{"private-key", "witness-ec", "0a0b", "EC", "P-256", "sensitive,"},
		{"public-key", "witness-ec", "0a0b", "EC", "P-256"},
		{"private-key", "witness-rsa", "0c0d", "RSA", "2048", "sensitive,"},
		{"public-key", "witness-rsa", "0c0d", "RSA", "2048"},
	} {
		if !hasRow(r.stdout, row...) {
			t.Errorf("hsm list output lacks row %q:\n%s", row, r.stdout)
		}
	}
	if strings.Contains(r.stdout, tok.PIN) || strings.Contains(r.stderr, tok.PIN) {
		t.Fatal("the PIN appears in the output")
	}

	// Without a PIN only the public halves show.
	r = ceremony(t, nil, "hsm", "list", "--token", tok.Label)
	if r.code != 0 || strings.Contains(r.stdout, "private-key") || !hasRow(r.stdout, "public-key", "witness-ec") {
		t.Fatalf("hsm list without PIN: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestHSMListErrors(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	wrongPIN := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongPIN, []byte("not-"+tok.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"wrong PIN", nil, []string{"--token", tok.Label, "--pin", "file:" + wrongPIN}, 1, "wrong PIN for token \"" + tok.Label + "\""},
		{"missing module", nil, []string{"--module", "/nonexistent/libvendor.so"}, 1, "module /nonexistent/libvendor.so: PKCS#11 module cannot be used: file does not exist"},
		{"unknown token", nil, []string{"--token", "no-such-token"}, 1, "no token labelled \"no-such-token\""},
		{"PIN env unset", nil, []string{"--token", tok.Label, "--pin", "env:CEREMONY_TEST_UNSET_PIN"}, 1, "environment variable CEREMONY_TEST_UNSET_PIN is not set"},
		{"literal PIN refused", nil, []string{"--token", tok.Label, "--pin", "1234"}, 1, "use env:NAME, file:PATH or prompt"},
		{"PIN without token", nil, []string{"--pin", "env:X"}, 1, "--pin needs --token"},
		{"no terminal for prompt", nil, []string{"--token", tok.Label, "--pin", "prompt"}, 1, "no terminal"},
		{"bad flag", nil, []string{"--colour"}, 2, "unknown flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ceremony(t, tc.env, append([]string{"hsm", "list"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("stderr = %q, want one line containing %q", r.stderr, tc.want)
			}
			if strings.Contains(r.stderr, tok.PIN) {
				t.Fatal("the PIN appears in the error")
			}
		})
	}
}

// hasRow reports whether a line of a table starts with these cells.
func hasRow(out string, cells ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(cells) && strings.Join(f[:len(cells)], " ") == strings.Join(cells, " ") {
			return true
		}
	}
	return false
}

// testenvConf is the SoftHSM2 configuration RunWithSoftHSM set up, for
// processes (like a tmux pane) that do not inherit the test's environment.
func testenvConf(t *testing.T) string {
	c := os.Getenv("SOFTHSM2_CONF")
	if c == "" {
		t.Fatal("SOFTHSM2_CONF unset")
	}
	return c
}

// TestBareCommandOffTerminal: `ceremony` alone opens the wizard only on a
// terminal; piped, it prints the help and makes nothing.
func TestBareCommandOffTerminal(t *testing.T) {
	t.Parallel()
	r := ceremony(t, nil)
	if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || !strings.Contains(r.stdout, "run ") {
		t.Fatalf("ceremony: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

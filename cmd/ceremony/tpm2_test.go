package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// pkcs11Spy is OpenSC's logging PKCS#11 module (Debian's opensc): it loads
// the module PKCS11SPY names and writes every call to PKCS11SPY_OUTPUT, an
// independent count of what the ceremony asked of the token.
const pkcs11Spy = "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so"

// TestTPM2WrongPINOnResume: a ceremony on tpm2-pkcs11 (which locks the
// whole TPM after three wrong PINs; its lockout is off here) is killed
// after its CA, then resumed with a wrong PIN: the binary calls C_Login
// once, as the spy counts, says so in one line that names the token and
// exits 1, leaving the journal to resume. With the right PIN it finishes.
func TestTPM2WrongPINOnResume(t *testing.T) {
	t.Parallel()
	killer := killhookBinary(t)
	tok := testenv.NewTPM2TokenAlone(t) // the binary loads the module too
	c := headless(tok)
	c.Token.Module = pkcs11Spy
	cfg := c.Write(t)
	dir := t.TempDir()
	spy := func(name string) []string {
		return []string{"PKCS11SPY=" + tok.Module, "PKCS11SPY_OUTPUT=" + filepath.Join(dir, name)}
	}
	logins := func(name string) int {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "C_Login\n")
	}

	cmd := exec.Command(killer, "run", "--config", cfg, "--non-interactive")
	cmd.Env = append(append(append(os.Environ(), pinEnv(tok)...), spy("first")...), "CEREMONY_KILL_AT=ca:after-record")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the run was not killed after the CA:\n%s", out)
	}
	if n := logins("first"); n != 1 {
		t.Fatalf("the first run called C_Login %d times", n)
	}

	wrong := append([]string{"CEREMONY_TEST_PIN=not-" + tok.PIN}, spy("wrong")...)
	r := ceremony(t, wrong, "run", "--config", cfg, "--non-interactive")
	// The library prints its own "ERROR: Esys_Unseal ..." lines on stderr;
	// the ceremony's say is its one "ceremony:" line.
	var ours []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, "ceremony:") {
			ours = append(ours, l)
		}
	}
	msg := strings.Join(ours, "\n")
	if r.code != 1 || len(ours) != 1 || !strings.Contains(msg, `wrong PIN for token "`+tok.Label+`"`) || !strings.Contains(msg, "nothing was retried") ||
		strings.Contains(r.stdout+r.stderr, tok.PIN) {
		t.Fatalf("resume with a wrong PIN: exit %d, stderr %q", r.code, r.stderr)
	}
	if n := logins("wrong"); n != 1 {
		t.Fatalf("the resume with a wrong PIN called C_Login %d times", n)
	}

	r = ceremony(t, append(pinEnv(tok), spy("right")...), "run", "--config", cfg, "--non-interactive")
	if r.code != 0 || !strings.Contains(r.stdout, "ceremony finished") {
		t.Fatalf("resume with the right PIN: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

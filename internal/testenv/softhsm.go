// Package testenv gives tests the real components they run against:
// scratch SoftHSM2 tokens, a notary-server process, an in-memory OCI
// registry, the notary CLI. The components themselves live in
// internal/scratch, which `ceremony demo` uses too; this package adds what
// only tests need (testing.TB helpers that fail, never skip, and clean up).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/scratch"
)

// RunWithSoftHSM is the body of a TestMain for packages that use tokens: it
// gives the test process (and the subprocesses it starts) a private SoftHSM2
// token directory, runs the tests and removes the directory. A TPM2 that a
// test started (NewTPM2Token) is stopped at the end too.
//
//	func TestMain(m *testing.M) { os.Exit(testenv.RunWithSoftHSM(m)) }
func RunWithSoftHSM(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ceremony-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	conf, err := scratch.WriteSoftHSMConfig(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	defer stopTPM2()
	return m.Run()
}

// Token is a scratch token made for one test.
type Token struct {
	Impl    string // the implementation's name: "softhsm2" or "tpm2"
	Module  string // library path
	Label   string
	PIN     string
	SOPIN   string
	PINFile string // a 0600 file holding PIN, for "file:" sources
}

// PINSource is the token's PIN as a secret source spelling.
func (t Token) PINSource() string { return "file:" + t.PINFile }

var tokenSeq atomic.Int64

// NewToken initialises a fresh token on SoftHSM2's free slot, in this process,
// so it is visible at once and no other test shares it. Tests that use it must
// run under RunWithSoftHSM.
func NewToken(tb testing.TB) Token {
	tb.Helper()
	if os.Getenv("SOFTHSM2_CONF") == "" {
		tb.Fatal("testenv.NewToken: SOFTHSM2_CONF is unset; call testenv.RunWithSoftHSM from TestMain")
	}
	return initToken(tb, SoftHSM2, scratch.SoftHSMModule)
}

// initToken initialises a fresh token on the module's free slot.
func initToken(tb testing.TB, impl, module string) Token {
	tb.Helper()
	mod, err := hsm.Open(module)
	if err != nil {
		tb.Fatalf("testenv: %v (make deps installs it)", err)
	}
	tb.Cleanup(func() { mod.Close() })
	tok := Token{
		Impl:   impl,
		Module: module,
		Label:  fmt.Sprintf("t%d-%s", tokenSeq.Add(1), randHex(3)),
		PIN:    randHex(6),
		SOPIN:  randHex(6),
	}
	if _, err := mod.InitToken(context.Background(), tok.Label, []byte(tok.SOPIN), []byte(tok.PIN)); err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tok.PINFile = filepath.Join(tb.TempDir(), "pin")
	if err := os.WriteFile(tok.PINFile, []byte(tok.PIN+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return tok
}

// Session opens the token and logs in; the session closes with the test.
func (t Token) Session(tb testing.TB) *hsm.Session {
	tb.Helper()
	// The tests' processes share one SoftHSM2 token directory, and this
	// process reads every token's files afresh at each listing: one that a
	// child process is writing can read as unreadable for a moment, and
	// the token sought as missing. The product reports that; a test reads
	// again.
	var s *hsm.Session
	var err error
	for try := 0; try < 5; try++ {
		s, err = hsm.Connect(context.Background(), t.Module, hsm.TokenSelector{Label: t.Label},
			func(context.Context) ([]byte, error) { return []byte(t.PIN), nil })
		if !errors.Is(err, hsm.ErrTokenNotFound) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Tool returns the path of an external program the tests need, failing the
// test (never skipping it) when the program is missing: `make deps` installs it.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		tb.Fatalf("%s is not installed: run `make deps` (it is part of the acceptance path)", name)
	}
	return p
}

func randHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// OpenSSL runs openssl, the independent check of every certificate, and
// returns what it printed; a failure (or a missing openssl) fails the test.
func OpenSSL(tb testing.TB, args ...string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, Tool(tb, "openssl"), args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/scratch"
)

// The PKCS#11 implementations the tests run against, by Token.Impl.
const (
	SoftHSM2 = "softhsm2"
	TPM2     = "tpm2"
)

// Impl is one PKCS#11 implementation, for tests that run a table over them.
type Impl struct {
	Name     string
	NewToken func(testing.TB) Token
	// NewTokenAlone is NewToken for a test that lets another process load
	// the module beside it (NewTPM2TokenAlone).
	NewTokenAlone func(testing.TB) Token
}

// Impls are SoftHSM2 and tpm2-pkcs11 over a software TPM: what the
// important tests run against, so that nothing works on one token only.
func Impls() []Impl {
	return []Impl{{SoftHSM2, NewToken, NewToken}, {TPM2, NewTPM2Token, NewTPM2TokenAlone}}
}

// tpm2 is the test binary's one scratch TPM2. tpm2-pkcs11 reads where its
// TPM and store are from the environment when it is loaded, and a process
// loads it once, so every test of the binary shares one TPM (each with a
// token of its own) and subprocesses inherit the same environment.
var tpm2 struct {
	once sync.Once
	// use is held shared by each test with a token, and alone by a test
	// that lets another process load the module (NewTPM2TokenAlone).
	use sync.RWMutex
	dir string
	tpm *scratch.TPM2
	err error
}

// TPM2Instance returns the test binary's TPM2, starting it on first use:
// lockout off (the tests try wrong PINs), its environment set for this
// process and the ones it starts. RunWithSoftHSM stops it at the end.
func TPM2Instance(tb testing.TB) *scratch.TPM2 {
	tb.Helper()
	tpm2.once.Do(func() {
		tpm2.dir, tpm2.err = os.MkdirTemp("", "ceremony-tpm2-")
		if tpm2.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tpm2.tpm, tpm2.err = scratch.StartTPM2(ctx, tpm2.dir, true)
		if tpm2.err != nil {
			return
		}
		for _, kv := range tpm2.tpm.Env {
			name, value, _ := strings.Cut(kv, "=")
			os.Setenv(name, value)
		}
	})
	if tpm2.err != nil {
		tb.Fatalf("testenv: %v", tpm2.err)
	}
	return tpm2.tpm
}

// NewTPM2Token initialises a fresh token on the binary's TPM2 (tpm2-pkcs11
// always offers one free slot, like SoftHSM2). Tests that use it must run
// under RunWithSoftHSM, which stops the TPM2. One token per test: the
// TPM2 is shared with the other tests until the test ends.
func NewTPM2Token(tb testing.TB) Token {
	tb.Helper()
	return NewTPM2Tokens(tb, 1)[0]
}

// NewTPM2Tokens is NewTPM2Token for a test that needs n tokens on one TPM.
func NewTPM2Tokens(tb testing.TB, n int) []Token {
	tb.Helper()
	t := TPM2Instance(tb)
	tpm2.use.RLock()
	tb.Cleanup(tpm2.use.RUnlock)
	toks := make([]Token, n)
	for i := range toks {
		toks[i] = initToken(tb, TPM2, t.Module)
	}
	return toks
}

// NewTPM2TokenAlone is NewTPM2Token for a test that lets another process
// (pkcs11-tool, the ceremony binary) load the module on the same store: the
// test has the TPM2 to itself until it ends. tpm2-pkcs11 keeps its tokens
// in sqlite without waiting on a lock: another process's C_Initialize fails
// ("database is locked") while this one writes the store, and a C_InitToken
// here fails while another process reads it, after which the library
// offers no free slot for the rest of the process.
func NewTPM2TokenAlone(tb testing.TB) Token {
	tb.Helper()
	t := TPM2Instance(tb)
	tpm2.use.Lock()
	tb.Cleanup(tpm2.use.Unlock)
	return initToken(tb, TPM2, t.Module)
}

func stopTPM2() {
	if tpm2.tpm != nil {
		if err := tpm2.tpm.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
		}
	}
	if tpm2.dir != "" {
		os.RemoveAll(tpm2.dir)
	}
}

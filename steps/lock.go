package steps

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Two runs must never work one token at once: both would find a label free
// and make a key under it. A run holds two locks: the config file's, taken
// first, so a second start of the same ceremony stops at once; and the
// token's (module and serial), from preflight to the end, so two configs (or
// two output directories) on one token cannot race. flock locks die with
// the process, so a crash never leaves a stale one.

// lockConfig takes an exclusive lock on the config file for the run.
func lockConfig(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lock config: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another ceremony process is running the config %s; wait for it to finish", path)
		}
		return nil, fmt.Errorf("lock config %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// lockToken takes the token's lock, a file in the temporary directory named
// after the module, serial and label, holding the PID of the run that has it.
func lockToken(module, serial, label string) (func(), error) {
	// The label too: every tpm2-pkcs11 token has serial 0000000000000000.
	sum := sha256.Sum256([]byte(module + "\x00" + serial + "\x00" + label))
	path := filepath.Join(os.TempDir(), "ceremony-token-"+hex.EncodeToString(sum[:8])+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock token %q: %w", label, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("token %q (serial %s) is in use by another ceremony process (pid %s); wait for it to finish", label, serial, holder(path))
		}
		return nil, fmt.Errorf("lock token %q: %w", label, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

func holder(path string) string {
	b, err := os.ReadFile(path)
	if pid := strings.TrimSpace(string(b)); err == nil && pid != "" {
		return pid
	}
	return "unknown"
}

func flock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

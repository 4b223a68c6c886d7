package steps

import (
	"strings"
	"testing"
)

// TestTokenLockSharedSerial: every tpm2-pkcs11 token reports serial
// 0000000000000000, so two ceremonies on two tokens of one module must not
// share a lock; two on one token still must.
func TestTokenLockSharedSerial(t *testing.T) {
	module := t.TempDir() + "/libp11.so" // the lock only names it
	serial := "0000000000000000"
	unlockA, err := lockToken(module, serial, "t-a-"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer unlockA()
	unlockB, err := lockToken(module, serial, "t-b-"+t.Name())
	if err != nil {
		t.Fatalf("a second token with the same serial: %v", err)
	}
	defer unlockB()
	if _, err := lockToken(module, serial, "t-a-"+t.Name()); err == nil || !strings.Contains(err.Error(), "in use by another ceremony process") {
		t.Fatalf("the same token twice: %v", err)
	}
}

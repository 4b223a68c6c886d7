package transcript

import (
	"context"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

func TestKeySigner(t *testing.T) {
	for _, kt := range []keyspec.Type{keyspec.ECDSAP256, keyspec.ECDSAP384, keyspec.RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			key, err := kt.Throwaway()
			if err != nil {
				t.Fatal(err)
			}
			other, _ := kt.Throwaway()
			s, err := NewSigner(key, nil)
			if err != nil {
				t.Fatal(err)
			}
			if id, _ := keyspec.KeyID(key.Public()); s.KeyID() != id || !strings.HasPrefix(id, "sha256:") || len(id) != 7+64 {
				t.Fatalf("key ID %q", s.KeyID())
			}
			pae := []byte("DSSEv1 28 application/vnd.in-toto+json 2 {}")
			sig, err := s.Sign(context.Background(), pae)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifySignature(key.Public(), pae, sig); err != nil {
				t.Fatalf("own signature: %v", err)
			}
			changed := append([]byte{}, pae...)
			changed[len(changed)-1] ^= 1
			if VerifySignature(key.Public(), changed, sig) == nil {
				t.Fatal("a changed PAE verified")
			}
			if VerifySignature(other.Public(), pae, sig) == nil {
				t.Fatal("another key verified the signature")
			}
		})
	}
}

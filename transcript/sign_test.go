package transcript

import (
	"context"
	"crypto/elliptic"
	"encoding/asn1"
	"math/big"
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

// TestHighSRefused: the other form of an ECDSA signature, (r, n-s), verifies
// mathematically but is refused, and the signer only writes the low form.
func TestHighSRefused(t *testing.T) {
	key, _ := keyspec.ECDSAP256.Throwaway()
	s, _ := NewSigner(key, nil)
	pae := []byte("payload")
	for i := 0; i < 20; i++ {
		sig, err := s.Sign(context.Background(), pae)
		if err != nil {
			t.Fatal(err)
		}
		var rs struct{ R, S *big.Int }
		asn1.Unmarshal(sig, &rs)
		n := elliptic.P256().Params().N
		if rs.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
			t.Fatal("the signer wrote a high-S signature")
		}
		rs.S = new(big.Int).Sub(n, rs.S)
		high, _ := asn1.Marshal(rs)
		if err := VerifySignature(key.Public(), pae, high); err == nil || !strings.Contains(err.Error(), "high S") {
			t.Fatalf("high-S signature: %v", err)
		}
	}
}

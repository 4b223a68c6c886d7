package hsm_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/miekg/pkcs11"
)

// BenchmarkSign measures ECDSA P-256 signatures through our crypto.Signer
// (lock, mechanism choice, r||s to DER) against bare miekg/pkcs11 calls on the
// same key in the same run: the ratio of the two is the layer's overhead.
func BenchmarkSign(b *testing.B) {
	tok := testenv.NewToken(b)
	s := tok.Session(b)
	ctx := context.Background()
	k, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "bench", Type: hsm.ECDSAP256})
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("benchmark"))

	b.Run("bare-miekg", func(b *testing.B) {
		c := pkcs11.New(tok.Module) // shares the initialised library; never Finalize
		sh, priv := rawKey(b, c, tok.Label, k.ID)
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
		for b.Loop() {
			if err := c.SignInit(sh, mech, priv); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Sign(sh, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ceremony-signer", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func rawKey(b *testing.B, c *pkcs11.Ctx, label string, id []byte) (pkcs11.SessionHandle, pkcs11.ObjectHandle) {
	slots, _ := c.GetSlotList(true)
	for _, slot := range slots {
		ti, _ := c.GetTokenInfo(slot)
		if strings.TrimSpace(ti.Label) != label {
			continue
		}
		sh, err := c.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.CloseSession(sh) })
		c.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, id)})
		hs, _, _ := c.FindObjects(sh, 1)
		c.FindObjectsFinal(sh)
		if len(hs) != 1 {
			b.Fatal("benchmark key not found")
		}
		return sh, hs[0]
	}
	b.Fatal("token not found")
	return 0, 0
}

package hsm_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/miekg/pkcs11"
)

// BenchmarkSign measures ECDSA P-256 signatures through our crypto.Signer
// (lock, mechanism choice, r||s to DER) against bare miekg/pkcs11 calls on the
// same key in the same iterations, and reports the ratio: the layer's
// overhead, on each implementation.
func BenchmarkSign(b *testing.B) {
	for _, impl := range testenv.Impls() {
		b.Run(impl.Name, func(b *testing.B) { benchSign(b, impl.NewToken(b)) })
	}
}

func benchSign(b *testing.B, tok testenv.Token) {
	s := tok.Session(b)
	ctx := context.Background()
	k, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "bench", Type: keyspec.ECDSAP256})
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("benchmark"))

	c := pkcs11.New(tok.Module) // shares the initialised library; never Finalize
	sh, priv := rawKey(b, c, tok.Label, k.ID)
	mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
	bare := func() {
		if err := c.SignInit(sh, mech, priv); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Sign(sh, d[:]); err != nil {
			b.Fatal(err)
		}
	}
	ours := func() {
		if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
	// Both in every iteration, alternating, so drift hits them alike.
	var tBare, tOurs time.Duration
	for b.Loop() {
		start := time.Now()
		bare()
		mid := time.Now()
		ours()
		tOurs += time.Since(mid)
		tBare += mid.Sub(start)
	}
	b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/sig")
	b.ReportMetric(float64(tOurs.Nanoseconds())/float64(b.N), "signer-ns/sig")
	b.ReportMetric(float64(tOurs)/float64(tBare), "signer/bare")
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

// passThrough is the cheapest wrapper: it only adds the seam's indirection.
type passThrough struct{ hsm.PKCS11 }

// BenchmarkSignSeam signs the same key through a plainly opened module and
// through one opened with a pass-through WithPKCS11 wrapper, alternating, and
// reports the ratio: the seam must cost signing nothing measurable.
func BenchmarkSignSeam(b *testing.B) {
	tok := testenv.NewToken(b)
	ctx := context.Background()
	if _, err := tok.Session(b).GenerateKey(ctx, hsm.KeySpec{Label: "bench", Type: keyspec.ECDSAP256}); err != nil {
		b.Fatal(err)
	}
	// Both keys are found the same way, each through a session of its own.
	find := func(opts ...hsm.Option) *hsm.Key {
		s, err := hsm.Connect(ctx, tok.Module, hsm.TokenSelector{Label: tok.Label},
			func(context.Context) ([]byte, error) { return []byte(tok.PIN), nil }, opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		k, err := s.FindKey(ctx, hsm.KeySelector{Label: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		return k
	}
	k := find()
	wk := find(hsm.WithPKCS11(func(p hsm.PKCS11) hsm.PKCS11 { return passThrough{p} }))
	d := sha256.Sum256([]byte("benchmark"))
	timed := func(k *hsm.Key) time.Duration {
		start := time.Now()
		if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// Each goes first every other iteration: the second signature of a pair
	// runs warmer.
	var tPlain, tWrapped time.Duration
	first := false
	for b.Loop() {
		if first = !first; first {
			tPlain += timed(k)
			tWrapped += timed(wk)
		} else {
			tWrapped += timed(wk)
			tPlain += timed(k)
		}
	}
	b.ReportMetric(float64(tPlain.Nanoseconds())/float64(b.N), "plain-ns/sig")
	b.ReportMetric(float64(tWrapped.Nanoseconds())/float64(b.N), "wrapped-ns/sig")
	b.ReportMetric(float64(tWrapped)/float64(tPlain), "wrapped/plain")
}

package hsm_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/faults"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/miekg/pkcs11"
)

// connect logs in to tok through a module opened with opts.
func connect(t *testing.T, tok testenv.Token, opts ...hsm.Option) *hsm.Session {
	t.Helper()
	s, err := hsm.Connect(context.Background(), tok.Module, hsm.TokenSelector{Label: tok.Label},
		func(context.Context) ([]byte, error) { return []byte(tok.PIN), nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// labelled counts the objects under label, as a session outside the test's
// injector sees them.
func labelled(t *testing.T, s *hsm.Session, label string) int {
	t.Helper()
	objs, err := s.Objects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range objs {
		if o.Label == label {
			n++
		}
	}
	return n
}

func sign(ctx context.Context, k *hsm.Key) error {
	d := sha256.Sum256([]byte("tbs"))
	_, err := k.SignContext(ctx, d[:], crypto.SHA256)
	return err
}

// TestWithPKCS11 checks the seam's reach: the wrapper gets the library's own
// *pkcs11.Ctx, every operation of a wrapped module (login and Key.Sign
// included) goes through it, and a plain module on the same library does not.
func TestWithPKCS11(t *testing.T) {
	t.Parallel()
	eachImpl(t, testWithPKCS11)
}

func testWithPKCS11(t *testing.T, tok testenv.Token) {
	ctx := context.Background()
	in := faults.New(faults.Fault{})
	gotCtx := false
	s := connect(t, tok, hsm.WithPKCS11(func(p hsm.PKCS11) hsm.PKCS11 {
		_, gotCtx = p.(*pkcs11.Ctx)
		return in.Wrap(p)
	}))
	if !gotCtx {
		t.Fatal("the wrapper was not handed the library's *pkcs11.Ctx")
	}
	k, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "k", Type: keyspec.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, k, "k")

	// Every operation goes through the wrapped module: each must work
	// through the pass-through, and fail once every call fails, or some path
	// goes around the seam.
	ops := []struct {
		name string
		run  func() error
	}{
		{"Info", func() error { _, err := s.Module().Info(); return err }},
		{"Tokens", func() error { _, err := s.Module().Tokens(ctx); return err }},
		{"OpenSession", func() error {
			o, err := s.Module().OpenSession(ctx, hsm.TokenSelector{Label: tok.Label})
			if err == nil {
				o.Close()
			}
			return err
		}},
		{"Login", func() error { return s.Login(ctx, []byte(tok.PIN)) }},
		{"Random", func() error { _, err := s.Random(ctx, 8); return err }},
		{"GenerateKey", func() error {
			_, err := s.GenerateKey(ctx, hsm.KeySpec{Label: fmt.Sprintf("k%d", len(in.Calls())), Type: keyspec.ECDSAP256})
			return err
		}},
		{"FindKey", func() error { _, err := s.FindKey(ctx, hsm.KeySelector{Label: "k"}); return err }},
		{"Key.Sign", func() error { return sign(ctx, k) }},
		{"Objects", func() error { _, err := s.Objects(ctx); return err }},
		{"StoreCertificate", func() error { return s.StoreCertificate(ctx, k, cert) }},
		{"Certificate", func() error { _, err := s.Certificate(ctx, k); return err }},
		{"RemoveOrphanPublicKeys", func() error { _, err := s.RemoveOrphanPublicKeys(ctx, "k"); return err }},
		{"CheckReady", func() error { return errors.Join(s.CheckReady(ctx, keyspec.ECDSAP256)...) }},
		// The label is taken, so InitToken stops after listing the tokens
		// and never initialises SoftHSM2's shared free slot.
		{"InitToken", func() error {
			_, err := s.Module().InitToken(ctx, tok.Label, []byte("12345678"), []byte("12345678"))
			if errors.Is(err, hsm.ErrLabelInUse) {
				return nil
			}
			return err
		}},
	}
	for _, op := range ops {
		in.Reset(faults.Fault{})
		if err := op.run(); err != nil {
			t.Fatalf("%s through the pass-through wrapper: %v", op.name, err)
		}
		if len(in.Calls()) == 0 {
			t.Errorf("%s made no call through the wrapper", op.name)
		}
		in.Reset(faults.Fault{Call: 1, CKR: pkcs11.CKR_GENERAL_ERROR, Sticky: true})
		if err := op.run(); !errors.Is(err, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)) {
			t.Errorf("%s with every call failing: %v", op.name, err)
		}
	}

	// A plain module on the same library is not wrapped.
	in.Reset(faults.Fault{Call: 1, CKR: pkcs11.CKR_GENERAL_ERROR, Sticky: true})
	plain := tok.Session(t)
	if _, err := plain.FindKey(ctx, hsm.KeySelector{Label: "k"}); err != nil {
		t.Fatalf("plain session beside a failing wrapped one: %v", err)
	}
	if n := len(in.Calls()); n != 0 {
		t.Fatalf("the plain module's calls reached the injector (%d)", n)
	}
	in.Reset(faults.Fault{})
}

// TestGenerateFallbackTemplate: when the first C_GenerateKeyPair rejects the
// explicit-off template with a template error, generation retries with the
// minimal one, and the key is still sensitive and never extractable by the
// token's own attributes, read back. Any other error is not retried.
func TestGenerateFallbackTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ckr      uint
		fallback bool
	}{
		{pkcs11.CKR_TEMPLATE_INCONSISTENT, true},
		{pkcs11.CKR_ATTRIBUTE_TYPE_INVALID, true},
		{pkcs11.CKR_ATTRIBUTE_VALUE_INVALID, true},
		{pkcs11.CKR_MECHANISM_INVALID, false},
		{pkcs11.CKR_DEVICE_ERROR, false},
	}
	for _, impl := range testenv.Impls() {
		for _, kt := range []keyspec.Type{keyspec.ECDSAP256, keyspec.RSA2048} {
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s/%s/%s", impl.Name, kt, ckrName(tc.ckr)), func(t *testing.T) {
					t.Parallel()
					tok := impl.NewToken(t)
					ctx := context.Background()
					in := faults.New(faults.Fault{Call: 1, Method: "C_GenerateKeyPair", CKR: tc.ckr})
					s := connect(t, tok, hsm.WithPKCS11(in.Wrap))
					k, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "root", Type: kt})
					if gens := countCalls(in, "C_GenerateKeyPair"); gens != map[bool]int{true: 2, false: 1}[tc.fallback] {
						t.Fatalf("%d C_GenerateKeyPair calls", gens)
					}
					plain := tok.Session(t)
					if !tc.fallback {
						if !errors.Is(err, pkcs11.Error(tc.ckr)) || !strings.Contains(err.Error(), "C_GenerateKeyPair") {
							t.Fatalf("GenerateKey = %v, want the token's %s", err, pkcs11.Error(tc.ckr))
						}
						if n := labelled(t, plain, "root"); n != 0 {
							t.Fatalf("%d objects left under the label", n)
						}
						return
					}
					if err != nil {
						t.Fatalf("no fallback: %v", err)
					}
					again, err := plain.FindKey(ctx, hsm.KeySelector{Label: "root"})
					if err != nil {
						t.Fatal(err)
					}
					if err := again.Attrs.Safe(); err != nil || !again.Attrs.Sensitive || again.Attrs.Extractable {
						t.Fatalf("the fallback key reads back as %+v: %v", again.Attrs, err)
					}
					if n := labelled(t, plain, "root"); n != 2 {
						t.Fatalf("%d objects under the label, want one pair", n)
					}
					assertNotExtractable(t, tok, "root", k)
				})
			}
		}
	}
}

// ckrName is "CKR_DEVICE_ERROR" for pkcs11.CKR_DEVICE_ERROR.
func ckrName(ckr uint) string {
	msg := pkcs11.Error(ckr).Error()
	return msg[strings.LastIndex(msg, " ")+1:]
}

func countCalls(in *faults.Injector, method string) int {
	n := 0
	for _, c := range in.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// TestSessionClosedUnderUs: hsm does not reopen a lost session (its login
// went with it, and the PIN is not kept). The error must say so in one line
// that names the token and what to do, keep the token's CKR and
// ErrSessionLost for callers, and a fresh Connect must work.
func TestSessionClosedUnderUs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault faults.Fault
		ckr   uint
		op    func(context.Context, *hsm.Session, *hsm.Key) error
	}{
		{"all sessions closed by another program", faults.Fault{}, pkcs11.CKR_SESSION_HANDLE_INVALID, signWith},
		{"C_SignInit handle invalid", faults.Fault{Call: 1, Method: "C_SignInit", CKR: pkcs11.CKR_SESSION_HANDLE_INVALID}, pkcs11.CKR_SESSION_HANDLE_INVALID, signWith},
		{"C_Sign session closed", faults.Fault{Call: 1, Method: "C_Sign", CKR: pkcs11.CKR_SESSION_CLOSED}, pkcs11.CKR_SESSION_CLOSED, signWith},
		{"C_FindObjectsInit device removed", faults.Fault{Call: 1, Method: "C_FindObjectsInit", CKR: pkcs11.CKR_DEVICE_REMOVED}, pkcs11.CKR_DEVICE_REMOVED, findRoot},
		{"C_GetAttributeValue token not present", faults.Fault{Call: 1, Method: "C_GetAttributeValue", CKR: pkcs11.CKR_TOKEN_NOT_PRESENT}, pkcs11.CKR_TOKEN_NOT_PRESENT, findRoot},
		{"C_GenerateRandom session closed", faults.Fault{Call: 1, Method: "C_GenerateRandom", CKR: pkcs11.CKR_SESSION_CLOSED}, pkcs11.CKR_SESSION_CLOSED,
			func(ctx context.Context, s *hsm.Session, _ *hsm.Key) error { _, err := s.Random(ctx, 8); return err }},
	}
	for _, impl := range testenv.Impls() {
		for _, tc := range tests {
			t.Run(impl.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				tok := impl.NewToken(t)
				ctx := context.Background()
				if _, err := tok.Session(t).GenerateKey(ctx, hsm.KeySpec{Label: "root", Type: keyspec.ECDSAP256}); err != nil {
					t.Fatal(err)
				}
				in := faults.New(faults.Fault{})
				s := connect(t, tok, hsm.WithPKCS11(in.Wrap))
				k, err := s.FindKey(ctx, hsm.KeySelector{Label: "root"})
				if err != nil {
					t.Fatal(err)
				}
				if tc.fault == (faults.Fault{}) {
					closeAllSessions(t, tok, s.Token().SlotID)
				}
				in.Reset(tc.fault)
				err = tc.op(ctx, s, k)
				if !errors.Is(err, hsm.ErrSessionLost) || !errors.Is(err, pkcs11.Error(tc.ckr)) {
					t.Fatalf("err = %v, want ErrSessionLost and %s", err, pkcs11.Error(tc.ckr))
				}
				msg := err.Error()
				for _, want := range []string{tok.Label, pkcs11.Error(tc.ckr).Error(), "reconnect it and run the command again"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q does not say %q", msg, want)
					}
				}
				if strings.Contains(msg, "\n") {
					t.Errorf("message is not one line: %q", msg)
				}
				// The advice works: a new connection signs.
				again, err := connect(t, tok).FindKey(ctx, hsm.KeySelector{Label: "root"})
				if err != nil {
					t.Fatal(err)
				}
				if err := sign(ctx, again); err != nil {
					t.Fatalf("after reconnecting: %v", err)
				}
			})
		}
	}
}

func signWith(ctx context.Context, _ *hsm.Session, k *hsm.Key) error { return sign(ctx, k) }

func findRoot(ctx context.Context, s *hsm.Session, _ *hsm.Key) error {
	_, err := s.FindKey(ctx, hsm.KeySelector{Label: "root"})
	return err
}

// closeAllSessions closes every session of this process on the slot behind
// hsm's back, as another library user may (C_CloseAllSessions): the token
// really invalidates hsm's session handle.
func closeAllSessions(t *testing.T, tok testenv.Token, slot uint) {
	t.Helper()
	c := pkcs11.New(tok.Module) // shares the initialised library; never Finalize
	if err := c.CloseAllSessions(slot); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateKeyFaultAtEveryCall fails each call GenerateKey makes, in
// turn, with each device-level CKR, once or from then on (a removed token
// stays removed). Every run must return an error that names the operation,
// the failing PKCS#11 function and the token's CKR, never call a failing
// device's answer an unsafe key, and leave nothing under the label unless the
// device refused to destroy the pair, which the error must then say.
func TestGenerateKeyFaultAtEveryCall(t *testing.T) {
	t.Parallel()
	for _, impl := range testenv.Impls() {
		ckrs := []uint{pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_GENERAL_ERROR}
		if impl.Name == testenv.TPM2 {
			ckrs = ckrs[:1] // the TPM2 runs one test at a time: one CKR shows its side
		}
		for _, ckr := range ckrs {
			for _, sticky := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/sticky=%v", impl.Name, ckrName(ckr), sticky), func(t *testing.T) {
					t.Parallel()
					generateFailing(t, impl.NewToken(t), ckr, sticky)
				})
			}
		}
	}
}

func generateFailing(t *testing.T, tok testenv.Token, ckr uint, sticky bool) {
	ctx := context.Background()
	plain := tok.Session(t) // keeps the token logged in, and looks on
	in := faults.New(faults.Fault{})
	mod, err := hsm.Open(tok.Module, hsm.WithPKCS11(in.Wrap))
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	session := func() *hsm.Session {
		s, err := mod.OpenSession(ctx, hsm.TokenSelector{Label: tok.Label})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := session()
	in.Reset(faults.Fault{})
	if _, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "recorded", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	calls := in.Calls()
	s.Close()
	gen := 0
	for i, c := range calls {
		if c.Method == "C_GenerateKeyPair" {
			gen = i + 1
		}
	}
	if gen == 0 || len(calls) <= gen {
		t.Fatalf("recorded calls %v", calls)
	}
	for n := 1; n <= len(calls); n++ {
		label := fmt.Sprintf("k%d", n)
		s := session() // a fresh one: a refused call may leave an operation active
		in.Reset(faults.Fault{Call: n, CKR: ckr, Sticky: sticky})
		_, err := s.GenerateKey(ctx, hsm.KeySpec{Label: label, Type: keyspec.ECDSAP256})
		in.Reset(faults.Fault{})
		s.Close()
		at := fmt.Sprintf("call %d (%s)", n, calls[n-1].Method)
		if err == nil {
			t.Fatalf("%s failed and GenerateKey succeeded", at)
		}
		msg := err.Error()
		if !errors.Is(err, pkcs11.Error(ckr)) || !strings.HasPrefix(msg, fmt.Sprintf("generate key %q", label)) ||
			!strings.Contains(msg, calls[n-1].Method) || strings.Contains(msg, "\n") {
			t.Fatalf("%s: %q does not name the operation, the function and %s in one line", at, msg, pkcs11.Error(ckr))
		}
		if errors.Is(err, hsm.ErrKeyUnsafe) {
			t.Fatalf("%s: a failing device reported as an unsafe key: %v", at, err)
		}
		if lost := errors.Is(err, hsm.ErrSessionLost); lost != (ckr == pkcs11.CKR_DEVICE_REMOVED) {
			t.Fatalf("%s: ErrSessionLost is %v for %s", at, lost, pkcs11.Error(ckr))
		}
		left, stuck := labelled(t, plain, label), sticky && n > gen
		// tpm2-pkcs11 keeps a key busy after C_SignInit until a C_Sign ends
		// the operation: a C_Sign that never reached it leaves the private
		// key undestroyable in this session, and the error must say so.
		if tok.Impl == testenv.TPM2 && calls[n-1].Method == "C_Sign" && left > 0 {
			stuck = true
		}
		switch {
		case stuck && (left == 0 || !strings.Contains(msg, "could not be destroyed")):
			t.Fatalf("%s: %d objects left, and the error says %q", at, left, msg)
		case !stuck && left != 0:
			t.Fatalf("%s: %d objects left under %q: %v", at, left, label, err)
		case !stuck && n > gen && !strings.Contains(msg, "the new pair was destroyed"):
			t.Fatalf("%s: %q does not say the pair was destroyed", at, msg)
		}
	}
}

// noKeyType is a token that will not tell any object's CKA_KEY_TYPE.
type noKeyType struct{ hsm.PKCS11 }

func (n noKeyType) GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error) {
	for _, at := range a {
		if at.Type == pkcs11.CKA_KEY_TYPE {
			return nil, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_TYPE_INVALID)
		}
	}
	return n.PKCS11.GetAttributeValue(sh, o, a)
}

// TestKeyTypeUnanswered: CKK_RSA is 0, so a key whose type the token does
// not tell must be reported as such, never taken for RSA.
func TestKeyTypeUnanswered(t *testing.T) {
	t.Parallel()
	eachImpl(t, testKeyTypeUnanswered)
}

func testKeyTypeUnanswered(t *testing.T, tok testenv.Token) {
	ctx := context.Background()
	if _, err := tok.Session(t).GenerateKey(ctx, hsm.KeySpec{Label: "root", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	s := connect(t, tok, hsm.WithPKCS11(func(p hsm.PKCS11) hsm.PKCS11 { return noKeyType{p} }))
	_, err := s.FindKey(ctx, hsm.KeySelector{Label: "root"})
	if err == nil || !strings.Contains(err.Error(), "CKA_KEY_TYPE") || strings.Contains(err.Error(), "RSA") {
		t.Fatalf("FindKey = %v, want an error about CKA_KEY_TYPE", err)
	}
	objs, err := s.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.KeyType != "" {
			t.Errorf("%s %q listed as %q", o.Class, o.Label, o.KeyType)
		}
	}
}

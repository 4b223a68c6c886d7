package hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/faults"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/miekg/pkcs11"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithSoftHSM(m)) }

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notLib := filepath.Join(dir, "libnot.so")
	if err := os.WriteFile(notLib, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.so"), "file does not exist"},
		{"directory", dir, "is a directory"},
		{"not a library", notLib, "not a PKCS#11 library"},
		{"shared object without PKCS#11", zlib(t), "not a PKCS#11 library"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := hsm.Open(tc.path)
			if err == nil {
				m.Close()
				t.Fatalf("Open(%s) succeeded", tc.path)
			}
			if !errors.Is(err, hsm.ErrModule) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("Open(%s) = %v, want ErrModule naming the path and %q", tc.path, err, tc.want)
			}
		})
	}
}

// zlib finds zlib, a real shared library every Debian system has (dpkg needs
// it) that is not a PKCS#11 module.
func zlib(t *testing.T) string {
	for _, pattern := range []string{"/lib/*/libz.so.1", "/usr/lib/*/libz.so.1", "/lib/libz.so.1", "/usr/lib/libz.so.1"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return m[0]
		}
	}
	t.Fatal("libz.so.1 not found")
	return ""
}

// eachImpl runs f once per PKCS#11 implementation (testenv.Impls), as
// parallel subtests named after it, each on a fresh token.
func eachImpl(t *testing.T, f func(t *testing.T, tok testenv.Token)) {
	t.Helper()
	for _, impl := range testenv.Impls() {
		t.Run(impl.Name, func(t *testing.T) {
			t.Parallel()
			f(t, impl.NewToken(t))
		})
	}
}

func TestOpenSharesOneLibrary(t *testing.T) {
	t.Parallel()
	eachImpl(t, testOpenSharesOneLibrary)
}

func testOpenSharesOneLibrary(t *testing.T, tok testenv.Token) {
	a, err := hsm.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	b, err := hsm.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	// Closing one user must not finalise the library under the other.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.FindToken(context.Background(), hsm.TokenSelector{Label: tok.Label}); err != nil {
		t.Fatalf("second user lost the module after first Close: %v", err)
	}
	b.Close()
}

func TestFindToken(t *testing.T) {
	t.Parallel()
	eachImpl(t, testFindToken)
}

func testFindToken(t *testing.T, tok testenv.Token) {
	m, err := hsm.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()

	got, err := m.FindToken(ctx, hsm.TokenSelector{Label: tok.Label})
	if err != nil {
		t.Fatal(err)
	}
	manufacturer := map[string]string{testenv.SoftHSM2: "SoftHSM project", testenv.TPM2: "IBM"}[tok.Impl]
	if got.Label != tok.Label || got.Manufacturer != manufacturer || got.Serial == "" {
		t.Fatalf("FindToken = %+v", got)
	}
	if _, err := m.FindToken(ctx, hsm.TokenSelector{Label: tok.Label, Serial: "nope"}); !errors.Is(err, hsm.ErrTokenNotFound) {
		t.Fatalf("wrong serial: %v", err)
	}
	_, err = m.FindToken(ctx, hsm.TokenSelector{Label: "no-such-token"})
	if !errors.Is(err, hsm.ErrTokenNotFound) || !strings.Contains(err.Error(), tok.Label) {
		t.Fatalf("unknown label: %v; want ErrTokenNotFound listing %q", err, tok.Label)
	}
	if _, err := m.FindToken(ctx, hsm.TokenSelector{}); err == nil {
		t.Fatal("empty label accepted")
	}
}

// TestFindTokenAmbiguous makes two tokens with one label behind the hsm
// package's back (it refuses to) and checks that selection refuses to guess.
// It is not parallel: its raw C_InitToken would race testenv.NewToken for
// SoftHSM2's one free slot.
func TestFindTokenAmbiguous(t *testing.T) {
	first := testenv.NewToken(t)
	m, err := hsm.Open(first.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if _, err := m.InitToken(ctx, first.Label, []byte("12345678"), []byte("12345678")); !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("InitToken with a used label: %v", err)
	}
	raw := rawInitToken(t, first.Module, first.Label)
	_, err = m.FindToken(ctx, hsm.TokenSelector{Label: first.Label})
	if !errors.Is(err, hsm.ErrTokenAmbiguous) || !strings.Contains(err.Error(), "serial") {
		t.Fatalf("two tokens labelled %q: %v", first.Label, err)
	}
	got, err := m.FindToken(ctx, hsm.TokenSelector{Label: first.Label, Serial: raw})
	if err != nil || got.Serial != raw {
		t.Fatalf("select by serial %s: %+v %v", raw, got, err)
	}
}

// rawInitToken initialises the free slot with label through miekg/pkcs11
// directly and returns the new token's serial.
var rawMu sync.Mutex

func rawInitToken(t *testing.T, module, label string) string {
	rawMu.Lock()
	defer rawMu.Unlock()
	c := pkcs11.New(module)
	if c == nil {
		t.Fatal("load module")
	}
	// The library is already initialised by hsm.Open; never Finalize it here.
	slots, err := c.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	var free uint
	found := false
	for _, s := range slots {
		ti, err := c.GetTokenInfo(s)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			free, found = s, true
		} else {
			before[strings.TrimSpace(ti.SerialNumber)] = true
		}
	}
	if !found {
		t.Fatal("no free slot")
	}
	if err := c.InitToken(free, "12345678", label); err != nil {
		t.Fatal(err)
	}
	slots, _ = c.GetSlotList(true)
	for _, s := range slots {
		ti, _ := c.GetTokenInfo(s)
		serial := strings.TrimSpace(ti.SerialNumber)
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 && strings.TrimSpace(ti.Label) == label && !before[serial] {
			return serial
		}
	}
	t.Fatal("new token not found")
	return ""
}

func TestLogin(t *testing.T) {
	t.Parallel()
	eachImpl(t, testLogin)
}

func testLogin(t *testing.T, tok testenv.Token) {
	m, err := hsm.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	s, err := m.OpenSession(ctx, hsm.TokenSelector{Label: tok.Label})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	wrong := "wrong-" + tok.PIN
	err = s.Login(ctx, []byte(wrong))
	var pe *hsm.PINError
	if !errors.As(err, &pe) || !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("wrong PIN: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, tok.Label) || !strings.Contains(msg, "wrong PIN") || strings.Contains(msg, wrong) || strings.Contains(msg, tok.PIN) {
		t.Fatalf("wrong-PIN message %q must name the token and never the PIN", msg)
	}
	if strings.Count(msg, "\n") != 0 {
		t.Fatalf("wrong-PIN message is not one line: %q", msg)
	}
	if err := s.Login(ctx, []byte(tok.PIN)); err != nil {
		t.Fatalf("right PIN: %v", err)
	}
	// A second login on a logged-in token is not an error, but a wrong PIN
	// on a second session still is, although the token no longer checks it.
	if err := s.Login(ctx, []byte(tok.PIN)); err != nil {
		t.Fatalf("second login: %v", err)
	}
	s2, err := m.OpenSession(ctx, hsm.TokenSelector{Label: tok.Label})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Login(ctx, []byte(wrong)); !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("wrong PIN on a second session of a logged-in token: %v", err)
	}
	if err := s2.Login(ctx, []byte(tok.PIN)); err != nil {
		t.Fatalf("right PIN on a second session: %v", err)
	}
}

// TestLoginTokensSharingASerial: every tpm2-pkcs11 token reports serial
// 0000000000000000. A login to one token must not be taken for another's:
// a right PIN on a second session of the first token, once the second token
// is logged in too, is right, and the other token's PIN is wrong there.
func TestLoginTokensSharingASerial(t *testing.T) {
	t.Parallel()
	toks := testenv.NewTPM2Tokens(t, 2)
	a, b := toks[0], toks[1]
	ctx := context.Background()
	sa, sb := a.Session(t), b.Session(t)
	if sa.Token().Serial != sb.Token().Serial {
		t.Fatalf("serials %q and %q differ: the premise is gone", sa.Token().Serial, sb.Token().Serial)
	}
	again, err := sa.Module().OpenSession(ctx, hsm.TokenSelector{Label: a.Label})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Login(ctx, []byte(a.PIN)); err != nil {
		t.Fatalf("token %s's own PIN on a second session: %v", a.Label, err)
	}
	if err := again.Login(ctx, []byte(b.PIN)); !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("token %s's PIN on token %s: %v", b.Label, a.Label, err)
	}
}

// TestGenerateSameLabelConcurrently: several goroutines race to generate
// under one label; exactly one pair is made.
func TestGenerateSameLabelConcurrently(t *testing.T) {
	t.Parallel()
	eachImpl(t, testGenerateSameLabelConcurrently)
}

func testGenerateSameLabelConcurrently(t *testing.T, tok testenv.Token) {
	s := tok.Session(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var made, refused atomic.Int32
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "dup", Type: keyspec.ECDSAP256})
			switch {
			case err == nil:
				made.Add(1)
			case errors.Is(err, hsm.ErrLabelInUse):
				refused.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	objs, _ := s.Objects(ctx)
	if made.Load() != 1 || refused.Load() != 5 || len(objs) != 2 {
		t.Fatalf("made %d, refused %d, %d objects", made.Load(), refused.Load(), len(objs))
	}
}

func TestPINErrorFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flags uint
		err   error
		want  string
	}{
		{0, hsm.ErrPINIncorrect, "no retry-counter warning"},
		{pkcs11.CKF_USER_PIN_COUNT_LOW, hsm.ErrPINIncorrect, "few tries left"},
		{pkcs11.CKF_USER_PIN_COUNT_LOW | pkcs11.CKF_USER_PIN_FINAL_TRY, hsm.ErrPINIncorrect, "one try is left"},
		{pkcs11.CKF_USER_PIN_LOCKED, hsm.ErrPINLocked, "locked"},
	}
	for _, tc := range tests {
		e := &hsm.PINError{Token: "tok", Flags: tc.flags, Err: tc.err}
		if !strings.Contains(e.Error(), tc.want) || !errors.Is(e, tc.err) {
			t.Errorf("flags %#x: %q, want %q", tc.flags, e.Error(), tc.want)
		}
	}
}

// TestGenerateKey makes every key type on every implementation. tpm2-pkcs11
// makes RSA keys up to 3072 bits: RSA-4096 must be refused before
// C_GenerateKeyPair, naming the token, its limit and the types that fit.
func TestGenerateKey(t *testing.T) {
	t.Parallel()
	for _, impl := range testenv.Impls() {
		for _, kt := range keyspec.All() {
			t.Run(impl.Name+"/"+string(kt), func(t *testing.T) {
				t.Parallel()
				testGenerateKey(t, impl, kt)
			})
		}
	}
}

func testGenerateKey(t *testing.T, impl testenv.Impl, kt keyspec.Type) {
	in := faults.New(faults.Fault{})
	tok := impl.NewToken(t)
	s := connect(t, tok, hsm.WithPKCS11(in.Wrap))
	ctx := context.Background()
	k, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "root", Type: kt})
	if impl.Name == testenv.TPM2 && kt == keyspec.RSA4096 {
		msg := fmt.Sprint(err)
		if !errors.Is(err, hsm.ErrMechanism) || !strings.Contains(msg, tok.Label) || !strings.Contains(msg, "3072") ||
			!strings.Contains(msg, "choose rsa-2048 or rsa-3072") || strings.Contains(msg, "\n") {
			t.Fatalf("RSA-4096 on tpm2: %v", err)
		}
		if n := countCalls(in, "C_GenerateKeyPair"); n != 0 {
			t.Fatalf("%d C_GenerateKeyPair calls for a size the token reports it cannot make", n)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if k.Type != kt || k.Label != "root" || len(k.ID) != 8 {
		t.Fatalf("key = %s %q id %x", k.Type, k.Label, k.ID)
	}
	if err := k.Attrs.Safe(); err != nil {
		t.Fatal(err)
	}
	checkSigns(t, tok.Impl, k)

	// The label is taken now: a second pair must be refused, and no
	// object may be added.
	before, _ := s.Objects(ctx)
	_, err = s.GenerateKey(ctx, hsm.KeySpec{Label: "root", Type: kt})
	if !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("label reuse: %v", err)
	}
	after, _ := s.Objects(ctx)
	if len(after) != len(before) {
		t.Fatalf("refused generation left objects: %d -> %d", len(before), len(after))
	}

	// Found again by label, by ID and by URI, it is the same key.
	for name, find := range map[string]func() (*hsm.Key, error){
		"label": func() (*hsm.Key, error) { return s.FindKey(ctx, hsm.KeySelector{Label: "root"}) },
		"id":    func() (*hsm.Key, error) { return s.FindKey(ctx, hsm.KeySelector{ID: k.ID}) },
		"uri": func() (*hsm.Key, error) {
			u, err := hsm.ParseURI("pkcs11:token=" + s.Token().Label + ";object=root;type=private")
			if err != nil {
				return nil, err
			}
			return s.FindKeyURI(ctx, u)
		},
	} {
		got, err := find()
		if err != nil {
			t.Fatalf("find by %s: %v", name, err)
		}
		if !keyspec.SamePublic(got.Public(), k.Public()) || string(got.ID) != string(k.ID) || got.Attrs != k.Attrs {
			t.Fatalf("find by %s returned another key", name)
		}
	}
}

func checkSigns(t *testing.T, impl string, k *hsm.Key) {
	t.Helper()
	msg := []byte("tbs")
	d256 := sha256.Sum256(msg)
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
			d := digest(h, msg)
			sig, err := k.Sign(rand.Reader, d, h)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(pub, d, sig) {
				t.Fatalf("ECDSA %v signature does not verify", h)
			}
			if sig, err = k.SignMessage(rand.Reader, msg, h); err != nil || !ecdsa.VerifyASN1(pub, d, sig) {
				t.Fatalf("ECDSA %v signature of the message does not verify (%v)", h, err)
			}
		}
	case *rsa.PublicKey:
		checkSignsRSA(t, impl, k, pub, msg)
	default:
		t.Fatalf("public key %T", pub)
	}
	if _, err := k.Sign(rand.Reader, d256[:10], crypto.SHA256); err == nil {
		t.Fatal("a short digest was signed")
	}
}

// checkSignsRSA signs msg with PKCS#1 v1.5 and PSS as the token allows.
// Given the message, every token signs v1.5 with SHA-256, -384 and -512 (on
// the token's hash-and-sign mechanism where it lists one). A bare digest
// needs raw CKM_RSA_PKCS, which tpm2-pkcs11 runs as a TPM decryption that a
// sign-only key refuses, so it is tried on SoftHSM2 alone. PSS is made
// where the token lists it, and refused before any token call otherwise.
func checkSignsRSA(t *testing.T, impl string, k *hsm.Key, pub *rsa.PublicKey, msg []byte) {
	t.Helper()
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		sig, err := k.SignMessage(rand.Reader, msg, h)
		if err != nil {
			t.Fatalf("PKCS#1 v1.5 %v of the message: %v", h, err)
		}
		if err := rsa.VerifyPKCS1v15(pub, h, digest(h, msg), sig); err != nil {
			t.Fatalf("PKCS#1 v1.5 %v: %v", h, err)
		}
	}
	d256 := digest(crypto.SHA256, msg)
	if impl == testenv.SoftHSM2 {
		sig, err := k.Sign(rand.Reader, d256, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d256, sig); err != nil {
			t.Fatalf("PKCS#1 v1.5 of the digest: %v", err)
		}
	}
	canPSS, err := k.CanPSS()
	if err != nil {
		t.Fatal(err)
	}
	if want := impl == testenv.SoftHSM2; canPSS != want {
		t.Fatalf("CanPSS = %v on %s", canPSS, impl)
	}
	pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	for name, sign := range map[string]func() ([]byte, error){
		"digest":  func() ([]byte, error) { return k.Sign(rand.Reader, d256, pss) },
		"message": func() ([]byte, error) { return k.SignMessage(rand.Reader, msg, pss) },
	} {
		sig, err := sign()
		if !canPSS {
			if !errors.Is(err, hsm.ErrMechanism) || !strings.Contains(err.Error(), "PKCS#1 v1.5") {
				t.Fatalf("PSS of the %s on a token without it: %v", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("PSS of the %s: %v", name, err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA256, d256, sig, pss); err != nil {
			t.Fatalf("PSS of the %s: %v", name, err)
		}
	}
}

func digest(h crypto.Hash, msg []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(msg)
		return d[:]
	}
	d := sha256.Sum256(msg)
	return d[:]
}

func TestFindKeyErrors(t *testing.T) {
	t.Parallel()
	eachImpl(t, testFindKeyErrors)
}

func testFindKeyErrors(t *testing.T, tok testenv.Token) {
	s := tok.Session(t)
	ctx := context.Background()
	if _, err := s.FindKey(ctx, hsm.KeySelector{Label: "absent"}); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("absent key: %v", err)
	}
	if _, err := s.FindKey(ctx, hsm.KeySelector{}); err == nil {
		t.Fatal("empty selector accepted")
	}
	u, _ := hsm.ParseURI("pkcs11:token=another;object=root")
	if _, err := s.FindKeyURI(ctx, u); !errors.Is(err, hsm.ErrKeyNotFound) {
		t.Fatalf("URI for another token: %v", err)
	}
}

func TestCertificateObject(t *testing.T) {
	t.Parallel()
	eachImpl(t, testCertificateObject)
}

func testCertificateObject(t *testing.T, tok testenv.Token) {
	s := tok.Session(t)
	ctx := context.Background()
	k, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "root", Type: keyspec.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, k, "root")
	if err := s.StoreCertificate(ctx, k, cert); err != nil {
		t.Fatal(err)
	}
	// The same certificate again is a no-op (resume); another one is refused.
	if err := s.StoreCertificate(ctx, k, cert); err != nil {
		t.Fatalf("storing the same certificate twice: %v", err)
	}
	if err := s.StoreCertificate(ctx, k, selfSigned(t, k, "root2")); !errors.Is(err, hsm.ErrLabelInUse) {
		t.Fatalf("different certificate under the same label: %v", err)
	}
	got, err := s.Certificate(ctx, k)
	if err != nil || got == nil || !got.Equal(cert) {
		t.Fatalf("Certificate() = %v, %v", got, err)
	}
	objs, err := s.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	classes := map[string]hsm.Object{}
	for _, o := range objs {
		if o.Label != "root" || string(o.ID) != string(k.ID) {
			t.Fatalf("unexpected object %+v", o)
		}
		classes[o.Class] = o
	}
	if len(objs) != 3 || classes["certificate"].Subject != "CN=root" || classes["private-key"].Attrs == nil ||
		classes["private-key"].KeyType != "EC P-256" || classes["public-key"].KeyType != "EC P-256" {
		t.Fatalf("objects = %+v", objs)
	}
}

func selfSigned(t *testing.T, k *hsm.Key, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now(),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConcurrentSign(t *testing.T) {
	t.Parallel()
	eachImpl(t, testConcurrentSign)
}

func testConcurrentSign(t *testing.T, tok testenv.Token) {
	s := tok.Session(t)
	k, err := s.GenerateKey(context.Background(), hsm.KeySpec{Label: "k", Type: keyspec.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	pub := k.Public().(*ecdsa.PublicKey)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				d := sha256.Sum256([]byte{byte(g), byte(i)})
				sig, err := k.Sign(nil, d[:], crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				if !ecdsa.VerifyASN1(pub, d[:], sig) {
					errs <- errors.New("bad signature under concurrency")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestRandom(t *testing.T) {
	t.Parallel()
	eachImpl(t, testRandom)
}

func testRandom(t *testing.T, tok testenv.Token) {
	s := tok.Session(t)
	a, err := s.Random(context.Background(), 32)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 32)
	if _, err := s.Rand(context.Background()).Read(b); err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || string(a) == string(b) {
		t.Fatalf("token random: %x %x", a, b)
	}
}

func TestConnect(t *testing.T) {
	t.Parallel()
	eachImpl(t, testConnect)
}

func testConnect(t *testing.T, tok testenv.Token) {
	ctx := context.Background()
	asked := 0
	pin := func(p string) func(context.Context) ([]byte, error) {
		return func(context.Context) ([]byte, error) { asked++; return []byte(p), nil }
	}
	// No PIN is asked for a token that is not there.
	if _, err := hsm.Connect(ctx, tok.Module, hsm.TokenSelector{Label: "absent"}, pin(tok.PIN)); !errors.Is(err, hsm.ErrTokenNotFound) || asked != 0 {
		t.Fatalf("absent token: %v, PIN asked %d times", err, asked)
	}
	if _, err := hsm.Connect(ctx, tok.Module, hsm.TokenSelector{Label: tok.Label}, pin("wrong")); !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("wrong PIN: %v", err)
	}
	s, err := hsm.Connect(ctx, tok.Module, hsm.TokenSelector{Label: tok.Label}, pin(tok.PIN))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GenerateKey(ctx, hsm.KeySpec{Label: "k", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

package trust

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/theupdateframework/notary/cryptoservice"
	"github.com/theupdateframework/notary/trustmanager"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/signed"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// TestTokenKeySigns signs with token keys of each type through the store and
// checks each signature with notary's own verifier for the method the key
// declares: the format the server and every client will check.
func TestTokenKeySigns(t *testing.T) {
	ctx := context.Background()
	sess := testenv.NewToken(t).Session(t)
	msg := []byte(`{"_type":"Root","version":1}`)
	for _, tc := range []struct {
		typ    keyspec.Type
		pkcs1  bool
		alg    data.SigAlgorithm
		keyAlg string
		sigLen int
	}{
		{keyspec.ECDSAP256, false, data.ECDSASignature, data.ECDSAKey, 64},
		{keyspec.ECDSAP384, false, data.ECDSASignature, data.ECDSAKey, 96},
		{keyspec.RSA2048, false, data.RSAPSSSignature, data.RSAKey, 256},
		{keyspec.RSA2048, true, data.RSAPKCS1v15Signature, data.RSAKey, 256},
	} {
		t.Run(string(tc.alg)+"/"+string(tc.typ), func(t *testing.T) {
			label := string(tc.typ) + "-" + string(tc.alg)
			k, err := sess.GenerateKey(ctx, hsm.KeySpec{Label: label, Type: tc.typ})
			if err != nil {
				t.Fatal(err)
			}
			ks, err := NewKeyStore(ctx, sess, nil, KeyRef{Key: hsm.KeySelector{ID: k.ID}, Role: data.CanonicalRootRole, GUN: "ignored/for/root", RSAPKCS1v15: tc.pkcs1})
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKIXPublicKey(k.Public())
			wantID := data.NewPublicKey(tc.keyAlg, der).ID()
			if got := ks.ListKeys(); len(got) != 1 || got[wantID] != (trustmanager.KeyInfo{Role: data.CanonicalRootRole}) {
				t.Fatalf("ListKeys = %v, want {%s: root, no GUN}", got, wantID)
			}
			priv, role, err := ks.GetKey(wantID)
			if err != nil || role != data.CanonicalRootRole {
				t.Fatalf("GetKey: %v %v", role, err)
			}
			if priv.ID() != wantID || priv.Private() != nil || priv.SignatureAlgorithm() != tc.alg || priv.Algorithm() != tc.keyAlg {
				t.Errorf("key %s %v %s %s", priv.ID(), priv.Private(), priv.SignatureAlgorithm(), priv.Algorithm())
			}
			sig, err := priv.Sign(rand.Reader, msg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) != tc.sigLen {
				t.Errorf("signature is %d bytes, want %d", len(sig), tc.sigLen)
			}
			pub := data.PublicKeyFromPrivate(priv)
			if err := signed.Verifiers[tc.alg].Verify(pub, sig, msg); err != nil {
				t.Errorf("notary's %s verifier: %v", tc.alg, err)
			}
			if err := signed.Verifiers[tc.alg].Verify(pub, sig, append(msg, ' ')); err == nil {
				t.Error("the signature verifies for another message")
			}
			// The ID signed.Sign looks keys up by, from a certificate over the key.
			if cid, err := utils.CanonicalKeyID(pub); err != nil || cid != wantID {
				t.Errorf("canonical ID %s %v", cid, err)
			}
			if _, ok := priv.CryptoSigner().(*hsm.Key); !ok {
				t.Errorf("CryptoSigner is %T", priv.CryptoSigner())
			}
		})
	}
}

// TestKeyStoreInCryptoService checks the store's behaviour where notary's
// crypto service relies on it: unknown keys fall through, software keys go
// to the next store, removal never touches the token.
func TestKeyStoreInCryptoService(t *testing.T) {
	ctx := context.Background()
	sess := testenv.NewToken(t).Session(t)
	root, err := sess.GenerateKey(ctx, hsm.KeySpec{Label: "root", Type: keyspec.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.GenerateKey(ctx, hsm.KeySpec{Label: "targets", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	ks, err := NewKeyStore(ctx, sess, nil,
		KeyRef{Key: hsm.KeySelector{Label: "root"}, Role: data.CanonicalRootRole},
		KeyRef{URI: mustURI(t, "pkcs11:token="+sess.Token().Label+";object=targets;type=private"), Role: data.CanonicalTargetsRole, GUN: "docker.io/a/b"})
	if err != nil {
		t.Fatal(err)
	}
	if ks.Name() != "pkcs11:"+sess.Token().Label {
		t.Errorf("Name() = %q", ks.Name())
	}
	ids := ks.IDs()
	if len(ids) != 2 {
		t.Fatalf("IDs %v", ids)
	}
	var rootID string
	for id, info := range ks.ListKeys() {
		if info.Role == data.CanonicalRootRole {
			rootID = id
		} else if info != (trustmanager.KeyInfo{Role: data.CanonicalTargetsRole, Gun: "docker.io/a/b"}) {
			t.Errorf("targets key info %+v", info)
		}
	}

	var nf trustmanager.ErrKeyNotFound
	if _, _, err := ks.GetKey("0123"); !errors.As(err, &nf) || nf.KeyID != "0123" {
		t.Errorf("GetKey(unknown) = %v, want trustmanager.ErrKeyNotFound", err)
	}
	if _, err := ks.GetKeyInfo("0123"); err == nil {
		t.Error("GetKeyInfo(unknown) succeeded")
	}

	mem := trustmanager.NewKeyMemoryStore(func(string, string, bool, int) (string, bool, error) { return "pass", false, nil })
	cs := cryptoservice.NewCryptoService(ks, mem)
	if got := cs.ListKeys(data.CanonicalRootRole); !slices.Equal(got, []string{rootID}) {
		t.Errorf("crypto service root keys %v, want %s", got, rootID)
	}
	if k, role, err := cs.GetPrivateKey(rootID); err != nil || role != data.CanonicalRootRole || k.Private() != nil {
		t.Errorf("crypto service GetPrivateKey(root) = %v %v", role, err)
	}
	// A new software key lands in the memory store, not the token.
	pub, err := cs.Create(data.CanonicalSnapshotRole, "docker.io/a/b", data.ECDSAKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mem.ListKeys()[pub.ID()]; !ok || len(ks.ListKeys()) != 2 {
		t.Errorf("the snapshot key went to the wrong store")
	}
	soft, _, _ := mem.GetKey(pub.ID())
	if err := ks.AddKey(trustmanager.KeyInfo{Role: data.CanonicalSnapshotRole}, soft); err == nil {
		t.Error("the token store accepted a software key")
	}
	own, _, _ := ks.GetKey(rootID)
	if err := ks.AddKey(trustmanager.KeyInfo{Role: data.CanonicalRootRole}, own); err != nil {
		t.Errorf("AddKey of a key the store holds: %v", err)
	}
	// notary's RotateKey removes retired keys from every store.
	if err := cs.RemoveKey(rootID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cs.GetPrivateKey(rootID); err != nil {
		t.Errorf("root key gone from the store after RemoveKey: %v", err)
	}
	if _, err := sess.FindKey(ctx, hsm.KeySelector{ID: root.ID}); err != nil {
		t.Errorf("root key gone from the token after RemoveKey: %v", err)
	}
}

// TestKeyStoreWrongPIN: a wrong PIN is notary's password error (so the
// crypto service stops there) and still hsm's PIN error with the token's
// retry state; the PIN never shows.
func TestKeyStoreWrongPIN(t *testing.T) {
	ctx := context.Background()
	tok := testenv.NewToken(t)
	mod, err := hsm.Open(tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close()
	s, err := mod.OpenSession(ctx, hsm.TokenSelector{Label: tok.Label})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wrong := []byte("wrong-" + tok.PIN)
	_, err = NewKeyStore(ctx, s, wrong, KeyRef{Key: hsm.KeySelector{Label: "root"}, Role: data.CanonicalRootRole})
	if !errors.Is(err, trustmanager.ErrPasswordInvalid{}) || !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("err = %v, want ErrPasswordInvalid and hsm.ErrPINIncorrect", err)
	}
	var pe trustmanager.ErrPasswordInvalid
	if !errors.As(err, &pe) {
		t.Error("errors.As(ErrPasswordInvalid) fails: notary's crypto service would not stop at it")
	}
	if strings.Contains(err.Error(), string(wrong)) || !strings.Contains(err.Error(), "wrong PIN") {
		t.Errorf("message %q", err)
	}
	// With the right PIN it logs in and finds nothing called root: not found, not a PIN error.
	_, err = NewKeyStore(ctx, s, []byte(tok.PIN), KeyRef{Key: hsm.KeySelector{Label: "root"}, Role: data.CanonicalRootRole})
	if !errors.Is(err, hsm.ErrKeyNotFound) || errors.Is(err, trustmanager.ErrPasswordInvalid{}) {
		t.Errorf("right PIN, no key: %v", err)
	}
}

func TestKeyRefRoles(t *testing.T) {
	ctx := context.Background()
	sess := testenv.NewToken(t).Session(t)
	if _, err := sess.GenerateKey(ctx, hsm.KeySpec{Label: "k", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		role data.RoleName
		ok   bool
	}{
		{data.CanonicalRootRole, true},
		{data.CanonicalTargetsRole, true},
		{"targets/releases", true},
		{data.CanonicalSnapshotRole, false}, // notary makes it in software, or the server holds it
		{data.CanonicalTimestampRole, false},
		{"", false},
		{"releases", false},
	} {
		_, err := NewKeyStore(ctx, sess, nil, KeyRef{Key: hsm.KeySelector{Label: "k"}, Role: tc.role})
		if (err == nil) != tc.ok {
			t.Errorf("role %q: %v", tc.role, err)
		}
	}
	_, err := NewKeyStore(ctx, sess, nil,
		KeyRef{Key: hsm.KeySelector{Label: "k"}, Role: data.CanonicalRootRole},
		KeyRef{Key: hsm.KeySelector{Label: "k"}, Role: data.CanonicalTargetsRole})
	if err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("one key for two roles: %v", err)
	}
}

func TestPadRS(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		size int
		want []byte
		err  bool
	}{
		{"full", []byte{1, 2, 3, 4}, 2, []byte{1, 2, 3, 4}, false},
		{"stripped", []byte{2, 4}, 2, []byte{0, 2, 0, 4}, false},
		{"odd", []byte{1, 2, 3}, 2, nil, true},
		{"too long", []byte{1, 2, 3, 4, 5, 6}, 2, nil, true},
		{"empty", nil, 2, nil, true},
	} {
		got, err := padRS(tc.in, tc.size)
		if (err != nil) != tc.err || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: padRS = %x, %v; want %x", tc.name, got, err, tc.want)
		}
	}
}

func mustURI(t *testing.T, s string) *hsm.URI {
	t.Helper()
	u, err := hsm.ParseURI(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestGenerateDelegateKey(t *testing.T) {
	priv, pub, err := GenerateDelegateKey("targets/me", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := DelegateKeyFromPEM(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	pk, err := utils.ParsePEMPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if pk.ID() != k.ID() {
		t.Fatalf("public key %s, private key %s", pk.ID(), k.ID())
	}
	if _, err := DelegateKeyFromPEM(priv, []byte("wrong")); err == nil {
		t.Fatal("wrong passphrase accepted")
	}
	if _, _, err := GenerateDelegateKey("targets/me", nil); err == nil {
		t.Fatal("a key without passphrase was made")
	}
}

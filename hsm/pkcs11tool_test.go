package hsm_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/miekg/pkcs11"
)

// TestPKCS11ToolWitness has OpenSC's pkcs11-tool, an independent PKCS#11
// client, look at keys this package generated: it must see them under our
// labels and IDs, report them sensitive and never extractable, and fail to
// read the private value.
func TestPKCS11ToolWitness(t *testing.T) {
	t.Parallel()
	for _, impl := range testenv.Impls() {
		t.Run(impl.Name, func(t *testing.T) {
			t.Parallel()
			testPKCS11ToolWitness(t, impl.NewTokenAlone(t)) // pkcs11-tool loads the module too
		})
	}
}

func testPKCS11ToolWitness(t *testing.T, tok testenv.Token) {
	tool := testenv.Tool(t, "pkcs11-tool")
	s := tok.Session(t)
	ctx := context.Background()
	keys := map[string]*hsm.Key{}
	for label, kt := range map[string]keyspec.Type{"ca": keyspec.ECDSAP384, "root": keyspec.ECDSAP256, "rsa": keyspec.RSA2048} {
		k, err := s.GenerateKey(ctx, hsm.KeySpec{Label: label, Type: kt})
		if err != nil {
			t.Fatal(err)
		}
		keys[label] = k
	}
	base := []string{"--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN}
	out, err := exec.Command(tool, append(base, "--list-objects", "--type", "privkey")...).CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool --list-objects: %v\n%s", err, out)
	}
	blocks := strings.Split(string(out), "Private Key Object")
	seen := 0
	for _, b := range blocks[1:] {
		for label, k := range keys {
			if !strings.Contains(b, "label:      "+label+"\n") {
				continue
			}
			seen++
			if !strings.Contains(b, "ID:         "+k.IDHex()) {
				t.Errorf("pkcs11-tool shows key %q without ID %s:\n%s", label, k.IDHex(), b)
			}
			for _, want := range []string{"sensitive", "always sensitive", "never extractable", "local"} {
				if !strings.Contains(b, want) {
					t.Errorf("pkcs11-tool does not report key %q %s:\n%s", label, want, b)
				}
			}
			if strings.Contains(b, "decrypt") || strings.Contains(b, "derive") || strings.Contains(b, "unwrap") {
				t.Errorf("key %q allows more than signing:\n%s", label, b)
			}
		}
	}
	if seen != len(keys) {
		t.Fatalf("pkcs11-tool saw %d of our %d private keys:\n%s", seen, len(keys), out)
	}
	// pkcs11-tool cannot even try to export a private key, so ask the token
	// directly, through a session of our own: reading the value and wrapping
	// the key out under a fresh AES key must both be refused.
	for label, k := range keys {
		assertNotExtractable(t, tok, label, k)
	}
}

func assertNotExtractable(t *testing.T, tok testenv.Token, label string, k *hsm.Key) {
	t.Helper()
	c := pkcs11.New(tok.Module) // shares the initialised library; never Finalize
	slots, err := c.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		ti, err := c.GetTokenInfo(slot)
		if err != nil || strings.TrimSpace(ti.Label) != tok.Label {
			continue
		}
		sh, err := c.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseSession(sh)
		if err := c.FindObjectsInit(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID),
		}); err != nil {
			t.Fatal(err)
		}
		hs, _, err := c.FindObjects(sh, 2)
		c.FindObjectsFinal(sh)
		if err != nil || len(hs) != 1 {
			t.Fatalf("key %q: %d handles, %v", label, len(hs), err)
		}
		// The token's own word, read past hsm: sensitive and never extractable.
		want := map[uint]bool{pkcs11.CKA_SENSITIVE: true, pkcs11.CKA_ALWAYS_SENSITIVE: true,
			pkcs11.CKA_EXTRACTABLE: false, pkcs11.CKA_NEVER_EXTRACTABLE: true, pkcs11.CKA_LOCAL: true}
		for attr, v := range want {
			got, err := c.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(attr, nil)})
			if err != nil || len(got) != 1 || len(got[0].Value) != 1 || (got[0].Value[0] != 0) != v {
				t.Fatalf("key %q: attribute 0x%x = %v, %v; want %v", label, attr, got, err, v)
			}
		}
		for _, attr := range []uint{pkcs11.CKA_VALUE, pkcs11.CKA_PRIVATE_EXPONENT, pkcs11.CKA_PRIME_1} {
			v, err := c.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(attr, nil)})
			if err == nil && len(v) == 1 && len(v[0].Value) > 0 {
				t.Fatalf("key %q: attribute 0x%x readable", label, attr)
			}
		}
		wrapKey, err := c.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
		})
		if tok.Impl == testenv.TPM2 {
			// tpm2-pkcs11 lists CKM_AES_KEY_GEN but makes no secret keys
			// through C_GenerateKey and wraps nothing: no way out to try.
			if !errors.Is(err, pkcs11.Error(pkcs11.CKR_FUNCTION_NOT_SUPPORTED)) {
				t.Fatalf("tpm2: C_GenerateKey(AES) = %v, want CKR_FUNCTION_NOT_SUPPORTED", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("make wrapping key: %v", err)
		}
		_, err = c.WrapKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}, wrapKey, hs[0])
		if !errors.Is(err, pkcs11.Error(pkcs11.CKR_KEY_UNEXTRACTABLE)) {
			t.Fatalf("key %q: C_WrapKey = %v, want CKR_KEY_UNEXTRACTABLE", label, err)
		}
		return
	}
	t.Fatalf("token %q not found", tok.Label)
}

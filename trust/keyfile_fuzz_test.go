package trust

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/theupdateframework/notary/tuf/signed"
)

// FuzzParsePrivateKeyPEM: whatever the file and passphrase, the parser
// returns a key or an error, never panics or spins; a key it returns signs,
// and notary's verifier accepts the signature; no error holds the
// passphrase.
func FuzzParsePrivateKeyPEM(f *testing.F) {
	priv, _, err := GenerateDelegateKey("targets/me", []byte("fuzz-pass"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(priv, []byte("fuzz-pass"))
	f.Add(priv, []byte("wrong-pass"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHxbuQ4Xhb8cB6h0Ycq5lD9bW6uy0x1pV1cSeGP2vEXj\n-----END PRIVATE KEY-----\n"), []byte(nil))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), []byte("x"))
	f.Fuzz(func(t *testing.T, pemBytes, pass []byte) {
		k, err := parsePrivateKeyPEM(pemBytes, pass)
		if err != nil {
			if len(pass) >= 8 && strings.Contains(err.Error(), string(pass)) && !strings.Contains(string(pemBytes), string(pass)) {
				t.Fatalf("the error holds the passphrase: %v", err)
			}
			return
		}
		msg := sha256.Sum256(pemBytes)
		sig, err := k.Sign(rand.Reader, msg[:], nil) // as notary signs
		if err != nil {
			t.Fatalf("a parsed %s key does not sign: %v", k.Algorithm(), err)
		}
		if err := signed.Verifiers[k.SignatureAlgorithm()].Verify(k, sig, msg[:]); err != nil {
			t.Fatalf("notary refuses the signature of a parsed %s key: %v", k.Algorithm(), err)
		}
	})
}

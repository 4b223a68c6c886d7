package trust

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// keyFile is a delegate's private key file as one tool writes it, and the
// PEM public key the ID must match.
type keyFile struct {
	name     string
	priv     []byte
	pub      []byte // "" for rows that fail
	pass     string // "" for a plain file
	wantErr  string // "" when the key reads
	wrongErr string // the error for a wrong passphrase ("" when unencrypted)
}

// delegateKeyFiles makes key files with the real openssl, the notary CLI and
// the library docker's `trust key generate` runs, in every form a delegate
// may hand over.
func delegateKeyFiles(t *testing.T) []keyFile {
	t.Helper()
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	read := func(name string) []byte {
		b, err := os.ReadFile(path(name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ossl := func(args ...string) { testenv.OpenSSL(t, args...) }
	const pass = "delegate-pass-1"
	pub := func(name string) []byte {
		ossl("pkey", "-in", path(name), "-passin", "pass:"+pass, "-pubout", "-out", path(name+".pub"))
		return read(name + ".pub")
	}
	ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("ec8"))
	ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-aes256", "-pass", "pass:"+pass, "-out", path("ec8enc"))
	ossl("pkcs8", "-topk8", "-in", path("ec8"), "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1", "-passout", "pass:"+pass, "-out", path("ec8sha1"))
	ossl("pkcs8", "-topk8", "-in", path("ec8"), "-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512", "-passout", "pass:"+pass, "-out", path("ec8sha512"))
	ossl("ec", "-in", path("ec8"), "-out", path("ecsec1"))
	ossl("ec", "-in", path("ec8"), "-aes256", "-passout", "pass:"+pass, "-out", path("ecsec1enc"))
	ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path("rsa8"))
	ossl("rsa", "-in", path("rsa8"), "-traditional", "-out", path("rsa1"))
	ossl("genpkey", "-algorithm", "ED25519", "-aes256", "-pass", "pass:"+pass, "-out", path("ed"))
	ossl("pkcs8", "-topk8", "-in", path("ec8"), "-v2", "des3", "-passout", "pass:"+pass, "-out", path("ec8des3"))
	ossl("pkcs8", "-topk8", "-in", path("ec8"), "-v1", "PBE-SHA1-3DES", "-passout", "pass:"+pass, "-out", path("ec8pkcs12"))
	ossl("genpkey", "-algorithm", "X25519", "-out", path("x25519"))
	ossl("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024", "-out", path("dsaparam"))
	ossl("genpkey", "-paramfile", path("dsaparam"), "-out", path("dsa"))

	// The notary CLI's own key file: encrypted PKCS#8 with a role: header.
	notary := testenv.Tool(t, "notary")
	cmd := exec.Command(notary, "-d", path("trust"), "key", "generate", "ecdsa", "--role", "targets/me", "-o", path("notary"))
	cmd.Env = append(os.Environ(), "NOTARY_DELEGATION_PASSPHRASE="+pass)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("notary key generate: %v\n%s", err, out)
	}
	// docker trust key generate's: the same library call docker makes.
	dockerPriv, dockerPub, err := GenerateDelegateKey("targets/me", []byte(pass))
	if err != nil {
		t.Fatal(err)
	}

	const wrong = "wrong passphrase"
	return []keyFile{
		{name: "openssl genpkey EC, PKCS#8", priv: read("ec8"), pub: pub("ec8")},
		{name: "openssl genpkey -aes256 (PBES2, HMAC-SHA256)", priv: read("ec8enc"), pub: pub("ec8enc"), pass: pass, wrongErr: wrong},
		{name: "openssl pkcs8 -v2prf hmacWithSHA1, AES-128", priv: read("ec8sha1"), pub: pub("ec8"), pass: pass, wrongErr: wrong},
		{name: "openssl pkcs8 -v2prf hmacWithSHA512, AES-192", priv: read("ec8sha512"), pub: pub("ec8"), pass: pass, wrongErr: wrong},
		{name: "traditional EC", priv: read("ecsec1"), pub: pub("ec8")},
		{name: "traditional EC, Proc-Type encrypted", priv: read("ecsec1enc"), pub: pub("ec8"), pass: pass, wrongErr: wrong},
		{name: "RSA PKCS#8", priv: read("rsa8"), pub: pub("rsa8")},
		{name: "RSA traditional", priv: read("rsa1"), pub: pub("rsa8")},
		{name: "Ed25519 encrypted", priv: read("ed"), pub: pub("ed"), pass: pass, wrongErr: wrong},
		{name: "notary key generate", priv: read("notary-key.pem"), pub: read("notary.pem"), pass: pass, wrongErr: wrong},
		{name: "docker trust key generate", priv: dockerPriv, pub: dockerPub, pass: pass, wrongErr: wrong},
		{name: "encrypted, no passphrase", priv: read("ec8enc"), wantErr: "the key file is encrypted: give its passphrase"},
		{name: "PBES2 with 3DES", priv: read("ec8des3"), pass: pass, wantErr: "is not read; re-encrypt it with openssl pkcs8 -topk8 -v2 aes-256-cbc"},
		{name: "PKCS#12 PBE", priv: read("ec8pkcs12"), pass: pass, wantErr: "only PBES2 with PBKDF2 is read"},
		{name: "public key instead", priv: pub("ec8"), wantErr: "the file holds a PUBLIC KEY, not the private key"},
		{name: "X25519", priv: read("x25519"), wantErr: "unsupported key type"},
		{name: "DSA", priv: read("dsa"), wantErr: "PKCS#8 wrapping contained private key with unknown algorithm"},
		{name: "not PEM", priv: []byte("hello\n"), wantErr: "no PEM block"},
	}
}

func TestDelegateKeyFromPEMForms(t *testing.T) {
	t.Parallel()
	for _, kf := range delegateKeyFiles(t) {
		t.Run(kf.name, func(t *testing.T) {
			k, err := DelegateKeyFromPEM(kf.priv, []byte(kf.pass))
			if kf.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), kf.wantErr) {
					t.Fatalf("DelegateKeyFromPEM = %v, want %q", err, kf.wantErr)
				}
				if strings.Contains(err.Error(), "delegate-pass-1") {
					t.Fatalf("the error holds the passphrase: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id := publicID(t, kf.pub); k.ID() != id {
				t.Fatalf("key ID %s, its public key's %s", k.ID(), id)
			}
			if kf.wrongErr == "" {
				return
			}
			_, err = DelegateKeyFromPEM(kf.priv, []byte("not-the-pass"))
			if !errors.Is(err, ErrWrongPassphrase) || !strings.Contains(err.Error(), "delegate key: wrong passphrase") {
				t.Fatalf("wrong passphrase: %v", err)
			}
		})
	}
}

// publicID is notary's key ID of a PEM public key (notary's own parser reads
// no Ed25519 PEM).
func publicID(t *testing.T, pemBytes []byte) string {
	t.Helper()
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		t.Fatal("no PEM public key")
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if ed, ok := pub.(ed25519.PublicKey); ok {
		return data.NewED25519PublicKey(ed).ID()
	}
	pk, err := utils.ParsePEMPublicKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return pk.ID()
}

// TestCheckDelegateKey: what a command can refuse of the delegate's key
// before it asks for the passphrase or talks to a server.
func TestCheckDelegateKey(t *testing.T) {
	dir := t.TempDir()
	enc, pub, err := GenerateDelegateKey("targets/me", []byte("pass-word"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := utils.ParsePEMPrivateKey(enc, "pass-word")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := utils.ConvertPrivateKeyToPKCS8(k, "targets/me", "", "")
	if err != nil {
		t.Fatal(err)
	}
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, key, want string // want "" = accepted
	}{
		{"encrypted PKCS#8", file("enc.key", enc), ""},
		{"plain PKCS#8", file("plain.key", plain), ""},
		{"a public key", file("me.pub", pub), "delegate key: the file holds a PUBLIC KEY, not the private key: give the private key file"},
		{"not PEM", file("junk", []byte("junk")), "delegate key: no PEM block: the file is not a PEM private key"},
		{"a directory", dir, "delegate key: " + dir + " is a directory"},
		{"absent", filepath.Join(dir, "absent"), "no such file or directory"},
		{"a pkcs11 URI", "pkcs11:token=t;object=o", ""},
		{"a broken pkcs11 URI", "pkcs11:token=%zz", "delegate key: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDelegateKey(tc.key)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

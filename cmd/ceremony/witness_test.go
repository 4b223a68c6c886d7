package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
)

// sealedTranscript writes a sealed transcript signed by a throwaway
// transcript key, with the declared witnesses in its header.
func sealedTranscript(t *testing.T, declared ...transcript.DeclaredWitness) string {
	t.Helper()
	ctx := context.Background()
	key := testenv.SoftKey(t, keyspec.ECDSAP256)
	signer, err := transcript.NewSigner(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := transcript.PublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	header := transcript.Entry{
		Inputs:   map[string]any{"signer": map[string]any{"keyId": signer.KeyID(), "publicKey": pemKey}, "witnesses": declared},
		Subjects: []transcript.Subject{transcript.NewSubject("config.yaml", "application/yaml", []byte("gun: docker.io/alice/nginx\n"))},
	}
	path := filepath.Join(t.TempDir(), transcript.FileName)
	j, err := transcript.Create(ctx, path, header, signer)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Append(ctx, transcript.Entry{Kind: transcript.KindStep, Step: &transcript.StepRef{ID: "ca", Attempt: 1}}); err != nil {
		t.Fatal(err)
	}
	n, sum, err := j.Sum()
	if err != nil {
		t.Fatal(err)
	}
	seal := transcript.Entry{Kind: transcript.KindSeal, Results: json.RawMessage(fmt.Sprintf(`{"lines":%d,"sha256":%q}`, n, sum))}
	if _, err := j.Append(ctx, seal); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func keyIDOf(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	id, err := keyspec.KeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func verified(t *testing.T, path string) *transcript.Verified {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := transcript.Verify(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// pemKey is key as an unencrypted PEM private key file of the given form.
func pemKey(t *testing.T, key crypto.Signer, pkcs8 bool) string {
	t.Helper()
	var b *pem.Block
	if pkcs8 {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		b = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	} else {
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		b = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	}
	return writeFile(t, "witness.key", pem.EncodeToMemory(b))
}

// TestWitnessSignKeyFiles signs with PEM key files as witnesses keep them:
// encrypted PKCS#8 (docker trust key generate) with its passphrase from a
// file, plain EC, plain PKCS#8 RSA. The name and role default to the
// header's declaration.
func TestWitnessSignKeyFiles(t *testing.T) {
	t.Parallel()
	const pass = "witness-pass-4711"
	encPriv, encPub, err := trust.GenerateDelegateKey("targets/witness", []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(encPub)
	encKey, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	passFile := writeFile(t, "pass", []byte(pass+"\n"))
	ec, rsaKey := testenv.SoftKey(t, keyspec.ECDSAP384), testenv.SoftKey(t, keyspec.RSA2048)
	tests := []struct {
		name string
		key  string
		pub  crypto.PublicKey
		args []string
	}{
		{"encrypted PKCS#8", writeFile(t, "enc.key", encPriv), encKey, []string{"--key-passphrase", "file:" + passFile}},
		{"EC", pemKey(t, ec, false), ec.Public(), nil},
		{"PKCS#8 RSA", pemKey(t, rsaKey, true), rsaKey.Public(), []string{"--name", "Rosa", "--role", "observer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := keyIDOf(t, tt.pub)
			path := sealedTranscript(t, transcript.DeclaredWitness{Name: "Alice", Role: "auditor", KeyID: id})
			before := verified(t, path)
			args := append([]string{"witness", "sign", path, "--key", tt.key, "--statement", "followed the script"}, tt.args...)
			r := ceremony(t, nil, args...)
			if r.code != 0 {
				t.Fatalf("witness sign: exit %d\n%s", r.code, r.stderr)
			}
			name := `"Alice" (auditor)`
			if tt.args != nil && tt.args[0] == "--name" {
				name = `"Rosa" (observer)`
			}
			want := fmt.Sprintf("witness %s signed %s with key %s over seal sha256:%s (line 4)\n", name, path, id, before.SealSHA256)
			if r.stdout != want {
				t.Fatalf("stdout %q, want %q", r.stdout, want)
			}
			if strings.Contains(r.stdout+r.stderr, pass) {
				t.Fatal("the passphrase appears in the output")
			}
			v := verified(t, path)
			if len(v.Witnesses) != 1 || v.Witnesses[0].KeyID != id || v.Witnesses[0].Statement != "followed the script" {
				t.Fatalf("witnesses %+v", v.Witnesses)
			}
			// The same key again: refused, file unchanged.
			data, _ := os.ReadFile(path)
			r = ceremony(t, nil, args...)
			if r.code != 1 || !strings.Contains(r.stderr, "already witnessed this transcript (line 4") || strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("second signature: exit %d\n%s", r.code, r.stderr)
			}
			if after, _ := os.ReadFile(path); string(after) != string(data) {
				t.Fatal("a refused signature changed the transcript")
			}
		})
	}
}

// TestWitnessSignPKCS11 signs with a key on the witness's own token, the PIN
// from a file; the PIN never shows.
func TestWitnessSignPKCS11(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	key, err := tok.Session(t).GenerateKey(context.Background(), hsm.KeySpec{Label: "witness", Type: keyspec.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	path := sealedTranscript(t)
	uri := "pkcs11:token=" + tok.Label + ";object=witness;type=private?module-path=" + tok.Module
	r := ceremony(t, nil, "witness", "sign", path, "--key", uri, "--pin", tok.PINSource(), "--name", "Hanna HSM", "--role", "crypto officer")
	if r.code != 0 {
		t.Fatalf("witness sign: exit %d\n%s", r.code, r.stderr)
	}
	id := keyIDOf(t, key.Public())
	if !strings.HasPrefix(r.stdout, `witness "Hanna HSM" (crypto officer) signed `+path+" with key "+id) ||
		!strings.HasSuffix(r.stdout, "; the header does not declare this key\n") {
		t.Fatalf("stdout %q", r.stdout)
	}
	if strings.Contains(r.stdout+r.stderr, tok.PIN) {
		t.Fatal("the PIN appears in the output")
	}
	if v := verified(t, path); len(v.Witnesses) != 1 || v.Witnesses[0].KeyID != id || v.Witnesses[0].Name != "Hanna HSM" {
		t.Fatalf("witnesses %+v", v.Witnesses)
	}
}

func TestWitnessRefusals(t *testing.T) {
	t.Parallel()
	key := pemKey(t, testenv.SoftKey(t, keyspec.ECDSAP256), true)
	sealed := sealedTranscript(t)
	data, _ := os.ReadFile(sealed)
	lines := strings.SplitAfter(string(data), "\n")
	unsealed := writeFile(t, transcript.FileName, []byte(strings.Join(lines[:2], "")))
	changed := writeFile(t, transcript.FileName, []byte(strings.Replace(string(data), `"payloadType"`, `"payloadtype"`, 1)))
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unsealed", []string{"witness", "sign", unsealed, "--key", key, "--name", "W"}, 1, "not sealed: the ceremony did not finish"},
		{"changed", []string{"witness", "sign", changed, "--key", key, "--name", "W"}, 1, changed + ": line 1: "},
		{"undeclared without a name", []string{"witness", "sign", sealed, "--key", key}, 1, "the header declares no witness with key"},
		{"PIN on the command line", []string{"witness", "sign", sealed, "--key", key, "--pin", "1234"}, 2, "--pin: "},
		{"no key", []string{"witness", "sign", sealed}, 2, `required flag(s) "key" not set`},
		{"missing key file", []string{"witness", "sign", sealed, "--key", "/nonexistent/w.key", "--name", "W"}, 1, "--key: "},
		{"merge without -o", []string{"witness", "merge", sealed, sealed}, 2, `required flag(s) "output" not set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ceremony(t, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 || strings.Contains(r.stderr, "1234") {
				t.Fatalf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
		})
	}
	if after, _ := os.ReadFile(sealed); string(after) != string(data) {
		t.Fatal("a refused signature changed the transcript")
	}
}

// TestWitnessMerge: two witnesses sign copies of one transcript apart; the
// merged file holds both, verifies, and is never written over.
func TestWitnessMerge(t *testing.T) {
	t.Parallel()
	alice, bob := testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP256)
	path := sealedTranscript(t,
		transcript.DeclaredWitness{Name: "Alice", KeyID: keyIDOf(t, alice.Public())},
		transcript.DeclaredWitness{Name: "Bob", KeyID: keyIDOf(t, bob.Public())})
	data, _ := os.ReadFile(path)
	copyA, copyB := writeFile(t, "a.jsonl", data), writeFile(t, "b.jsonl", data)
	for _, s := range []struct{ file, key string }{{copyA, pemKey(t, alice, true)}, {copyB, pemKey(t, bob, true)}} {
		if r := ceremony(t, nil, "witness", "sign", s.file, "--key", s.key); r.code != 0 {
			t.Fatalf("witness sign: exit %d\n%s", r.code, r.stderr)
		}
	}
	out := filepath.Join(t.TempDir(), "merged.jsonl")
	r := ceremony(t, nil, "witness", "merge", copyA, copyB, "-o", out)
	if r.code != 0 {
		t.Fatalf("merge: exit %d\n%s", r.code, r.stderr)
	}
	v := verified(t, out)
	if len(v.Witnesses) != 2 || v.Witnesses[0].Name != "Alice" || v.Witnesses[1].Name != "Bob" {
		t.Fatalf("merged witnesses %+v", v.Witnesses)
	}
	if !strings.Contains(r.stdout, `: 2 witnesses over seal sha256:`+v.SealSHA256+`: "Alice", "Bob"`) {
		t.Fatalf("stdout %q", r.stdout)
	}
	// Never over an existing file with other bytes.
	if r := ceremony(t, nil, "witness", "merge", copyA, path, "-o", out); r.code != 1 || !strings.Contains(r.stderr, "never overwritten") {
		t.Fatalf("merge over an existing file: exit %d\n%s", r.code, r.stderr)
	}
	// Copies of different ceremonies do not merge.
	other := sealedTranscript(t)
	if r := ceremony(t, nil, "witness", "merge", copyA, other, "-o", filepath.Join(t.TempDir(), "x.jsonl")); r.code != 1 || !strings.Contains(r.stderr, "not copies of one transcript: line 1 differs") {
		t.Fatalf("merge of different ceremonies: exit %d\n%s", r.code, r.stderr)
	}
}

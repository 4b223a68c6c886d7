package transcript

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

func softKey(t testing.TB, kt keyspec.Type) crypto.Signer {
	t.Helper()
	key, err := kt.Throwaway()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func keySigner(t testing.TB, key crypto.Signer) *KeySigner {
	t.Helper()
	s, err := NewSigner(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keyID(t testing.TB, key crypto.Signer) string {
	t.Helper()
	id, err := keyspec.KeyID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// signedHeader is header() naming key as the transcript signer, with the
// declared witnesses, as the runner writes it.
func signedHeader(t testing.TB, key crypto.Signer, declared ...DeclaredWitness) Entry {
	t.Helper()
	pemKey, err := PublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	h := header()
	h.Inputs["signer"] = map[string]any{"keyId": keyID(t, key), "publicKey": pemKey, "label": "transcript", "ckaId": "0a0b",
		"type": "ecdsa-p256", "attributes": map[string]bool{"sensitive": true, "extractable": false}}
	h.Inputs["witnesses"] = declared
	return h
}

// sealEntry is the seal a runner appends: Journal.Sum's figures in Results.
func sealEntry(t testing.TB, j *Journal) Entry {
	t.Helper()
	n, sum, err := j.Sum()
	if err != nil {
		t.Fatal(err)
	}
	return Entry{Kind: KindSeal, Started: t0, Finished: t0, Results: mustJSON(t, map[string]any{"lines": n, "sha256": sum, "steps": []string{"create-ca", "root-key"}})}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealedFile writes a header, steps() and the seal through Create and
// Append, signed by key, and returns the path and the file's bytes.
func sealedFile(t testing.TB, key crypto.Signer, declared ...DeclaredWitness) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	j, err := Create(ctx, path, signedHeader(t, key, declared...), keySigner(t, key))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, e := range steps() {
		if _, err := j.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := j.Append(ctx, sealEntry(t, j)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// build writes entries (header first) as a chained transcript in memory,
// signed by signer, filling a seal's figures: a forger's tool, and the
// benchmark's, which cannot afford an fsync per line.
func build(t testing.TB, signer Signer, entries []Entry) []byte {
	t.Helper()
	var out []byte
	prev := ""
	for i, e := range entries {
		e.Seq, e.Prev = i, prev
		if i == 0 && e.Kind == "" {
			e.Kind = KindHeader
		}
		if e.Kind == KindSeal {
			e.Results = mustJSON(t, map[string]any{"lines": i, "sha256": sha256Hex(out)})
		}
		line, err := encodeLine(context.Background(), &e, signer)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, line...)
		prev = lineDigest(line[:len(line)-1])
	}
	return out
}

// splitLines cuts data into lines that keep their '\n' (a torn tail too).
func splitLines(data []byte) [][]byte {
	l := bytes.SplitAfter(data, []byte("\n"))
	if len(l[len(l)-1]) == 0 {
		l = l[:len(l)-1]
	}
	return l
}

func join(l [][]byte) []byte { return bytes.Join(l, nil) }

// envelopeOf and its inverse edit a line's envelope without re-signing.
func envelopeOf(t testing.TB, line []byte) dsse.Envelope {
	t.Helper()
	var env dsse.Envelope
	if err := json.Unmarshal(bytes.TrimSuffix(line, []byte("\n")), &env); err != nil {
		t.Fatal(err)
	}
	return env
}

func lineOf(t testing.TB, env dsse.Envelope) []byte {
	t.Helper()
	return append(mustJSON(t, env), '\n')
}

// resign rewrites a line's statement through edit and signs it anew with
// signer, as someone holding that key could.
func resign(t testing.TB, line []byte, signer Signer, edit func(st map[string]any)) []byte {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(decodePayload(t, bytes.TrimSuffix(line, []byte("\n")))), &st); err != nil {
		t.Fatal(err)
	}
	edit(st)
	out, err := encodeEnvelope(context.Background(), mustJSON(t, st), signer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func predicate(st map[string]any) map[string]any { return st["predicate"].(map[string]any) }

func TestVerify(t *testing.T) {
	key := softKey(t, keyspec.ECDSAP256)
	signer := keySigner(t, key)
	alice, attacker := softKey(t, keyspec.ECDSAP256), softKey(t, keyspec.ECDSAP256)
	declared := []DeclaredWitness{{Name: "Alice", Role: "internal witness", KeyID: keyID(t, alice)}}
	_, sealed := sealedFile(t, key, declared...)
	_, other := sealedFile(t, key) // another ceremony, same transcript key
	aliceLine := witnessLine(t, sealed, alice, WitnessInfo{Statement: "script followed"})
	good := append(bytes.Clone(sealed), aliceLine...)

	v, err := Verify(good)
	if err != nil {
		t.Fatalf("Verify of a good transcript: %v", err)
	}
	if len(v.Entries) != 6 || v.Seal.Kind != KindSeal || v.Seal.Seq != 5 || v.SignerKeyID != keyID(t, key) || !keyspec.SamePublic(v.SignerKey, key.Public()) {
		t.Fatalf("verified: %d entries, seal %+v, signer %s", len(v.Entries), v.Seal, v.SignerKeyID)
	}
	if want := sha256Hex(bytes.TrimSuffix(splitLines(good)[5], []byte("\n"))); v.SealSHA256 != want {
		t.Fatalf("seal digest %s, want %s", v.SealSHA256, want)
	}
	if len(v.Witnesses) != 1 || v.Witnesses[0].Name != "Alice" || v.Witnesses[0].Role != "internal witness" || v.Witnesses[0].Line != 7 ||
		v.Witnesses[0].Statement != "script followed" || v.Witnesses[0].KeyID != keyID(t, alice) {
		t.Fatalf("witnesses %+v", v.Witnesses)
	}
	if len(v.Declared) != 1 || v.Declared[0] != declared[0] {
		t.Fatalf("declared %+v", v.Declared)
	}
	if subj := v.Entries[1].Subjects; len(subj) != 1 || subj[0].Name != "ca.pem" || len(subj[0].Content) == 0 {
		t.Fatalf("step subjects (inline certificates) not returned: %+v", subj)
	}
	if _, ok := v.Entries[0].Inputs["signer"].(map[string]any)["attributes"]; !ok {
		t.Fatalf("header inputs not returned: %v", v.Entries[0].Inputs)
	}

	// Each tampering is caught, and the error names the first bad line.
	tests := []struct {
		name   string
		tamper func(l [][]byte) [][]byte
		want   string
	}{
		{"line removed", func(l [][]byte) [][]byte { return append(l[:2:2], l[3:]...) }, "line 3: prev does not match line 2"},
		{"lines reordered", func(l [][]byte) [][]byte { l[2], l[3] = l[3], l[2]; return l }, "line 3: prev does not match line 2"},
		{"line duplicated", func(l [][]byte) [][]byte { return append(l[:3:3], l[2:]...) }, "line 4: prev does not match line 3"},
		{"header removed", func(l [][]byte) [][]byte { return l[1:] }, "line 1: prev"},
		{"witness line torn", func(l [][]byte) [][]byte { l[6] = l[6][:len(l[6])/2]; return l }, "line 7: torn last line (incomplete write) (" /* bytes */},
		{"seal torn", func(l [][]byte) [][]byte { l[5] = l[5][:100]; return l[:6] }, "did not finish"},
		{"seal dropped", func(l [][]byte) [][]byte { return l[:5] }, `not sealed: the ceremony did not finish (5 lines, the last a "deviation" entry)`},
		{"header only", func(l [][]byte) [][]byte { return l[:1] }, "not sealed: the ceremony did not finish"},
		{"empty", func(l [][]byte) [][]byte { return nil }, "empty: no header"},
		{"signature removed", func(l [][]byte) [][]byte {
			env := envelopeOf(t, l[1])
			env.Signatures = []dsse.Signature{}
			l[1] = lineOf(t, env)
			return l
		}, "line 2: 0 signatures, want exactly one"},
		{"signature swapped with line 3's", func(l [][]byte) [][]byte {
			a, b := envelopeOf(t, l[1]), envelopeOf(t, l[2])
			a.Signatures, b.Signatures = b.Signatures, a.Signatures
			l[1], l[2] = lineOf(t, a), lineOf(t, b)
			return l
		}, "line 2: signature does not verify with key " + keyID(t, key)},
		{"keyid hint changed", func(l [][]byte) [][]byte {
			env := envelopeOf(t, l[3])
			env.Signatures[0].KeyID = keyID(t, attacker)
			l[3] = lineOf(t, env)
			return l
		}, "line 4: signature keyid \"" + keyID(t, attacker) + "\", want " + keyID(t, key)},
		{"keyid hint dropped on the seal", func(l [][]byte) [][]byte {
			env := envelopeOf(t, l[5])
			env.Signatures[0].KeyID = ""
			l[5] = lineOf(t, env)
			return l
		}, `line 6: signature keyid ""`},
		{"second signature added", func(l [][]byte) [][]byte {
			env := envelopeOf(t, l[1])
			env.Signatures = append(env.Signatures, env.Signatures[0])
			l[1] = lineOf(t, env)
			return l
		}, "line 2: 2 signatures, want exactly one"},
		{"seal envelope respaced", func(l [][]byte) [][]byte {
			l[5] = bytes.Replace(l[5], []byte(`,"payload":`), []byte(`, "payload":`), 1)
			return l
		}, "line 6: envelope is not in the form this tool writes"},
		{"seal envelope fields reordered", func(l [][]byte) [][]byte {
			env := envelopeOf(t, l[5])
			l[5] = append(mustJSON(t, map[string]any{"payload": env.Payload, "payloadType": env.PayloadType, "signatures": env.Signatures}), '\n')
			return l
		}, "line 6: envelope is not in the form this tool writes"},
		{"witness envelope gains a field", func(l [][]byte) [][]byte {
			l[6] = bytes.Replace(l[6], []byte(`{"payloadType"`), []byte(`{"note":"x","payloadType"`), 1)
			return l
		}, "line 7: envelope is not in the form this tool writes"},
		{"seal payload type changed", func(l [][]byte) [][]byte {
			env := envelopeOf(t, l[5])
			env.PayloadType = "application/json"
			l[5] = lineOf(t, env)
			return l
		}, `line 6: payloadType "application/json"`},
		{"seal counts wrong (re-signed)", func(l [][]byte) [][]byte {
			l[5] = resign(t, l[5], signer, func(st map[string]any) { predicate(st)["results"].(map[string]any)["lines"] = 4 })
			return l[:6]
		}, "line 6: seal counts 4 lines before it, there are 5"},
		{"seal digest wrong (re-signed)", func(l [][]byte) [][]byte {
			l[5] = resign(t, l[5], signer, func(st map[string]any) { predicate(st)["results"].(map[string]any)["sha256"] = sha256Hex(nil) })
			return l[:6]
		}, "line 6: seal sha256"},
		{"seal without figures (re-signed)", func(l [][]byte) [][]byte {
			l[5] = resign(t, l[5], signer, func(st map[string]any) { predicate(st)["results"] = map[string]any{"steps": []string{}} })
			return l[:6]
		}, `line 6: seal results need "lines" and "sha256"`},
		{"second seal", func(l [][]byte) [][]byte {
			return append(l[:6:6], resign(t, l[5], signer, func(st map[string]any) {
				predicate(st)["seq"] = 6
				predicate(st)["prev"] = lineDigest(bytes.TrimSuffix(l[5], []byte("\n")))
			}))
		}, "line 7: entry after the seal: only witness lines may follow it"},
		{"header signer replaced and re-signed by another key", func(l [][]byte) [][]byte {
			forged := keySigner(t, attacker)
			l[0] = resign(t, l[0], forged, func(st map[string]any) {
				pemKey, _ := PublicKeyPEM(attacker.Public())
				s := predicate(st)["inputs"].(map[string]any)["signer"].(map[string]any)
				s["keyId"], s["publicKey"] = forged.KeyID(), pemKey
			})
			return l // line 2 is signed by the old key, but its prev already fails
		}, "line 2: prev does not match line 1"},
		{"header keyId not its key's (re-signed)", func(l [][]byte) [][]byte {
			l[0] = resign(t, l[0], signer, func(st map[string]any) {
				predicate(st)["inputs"].(map[string]any)["signer"].(map[string]any)["keyId"] = keyID(t, attacker)
			})
			return l
		}, "line 1: header: inputs.signer.keyId"},
		{"header without signer (re-signed)", func(l [][]byte) [][]byte {
			l[0] = resign(t, l[0], signer, func(st map[string]any) { delete(predicate(st)["inputs"].(map[string]any), "signer") })
			return l
		}, "line 1: header: inputs.signer is missing"},
		{"header declares a witness without key (re-signed)", func(l [][]byte) [][]byte {
			l[0] = resign(t, l[0], signer, func(st map[string]any) {
				predicate(st)["inputs"].(map[string]any)["witnesses"] = []any{map[string]any{"name": "Bob"}}
			})
			return l
		}, "line 1: header: inputs.witnesses[0]: needs a name and a keyId"},
		{"witness line of another transcript", func(l [][]byte) [][]byte {
			return append(l[:6:6], witnessLine(t, other, softKey(t, keyspec.ECDSAP256), WitnessInfo{Name: "Bob"}))
		}, "line 7: witness line of another transcript"},
		{"witness signature by another key", func(l [][]byte) [][]byte {
			env := envelopeOf(t, l[6])
			attackerLine := witnessLine(t, sealed, attacker, WitnessInfo{Name: "Alice"})
			env.Signatures[0].Sig = envelopeOf(t, attackerLine).Signatures[0].Sig
			l[6] = lineOf(t, env)
			return l
		}, `line 7: witness "Alice": signature does not verify`},
		{"witness keyId not its key's (re-signed)", func(l [][]byte) [][]byte {
			l[6] = resign(t, l[6], keySigner(t, alice), func(st map[string]any) { predicate(st)["keyId"] = keyID(t, attacker) })
			return l
		}, `line 7: witness "Alice": keyId`},
		{"witness signs with the transcript key", func(l [][]byte) [][]byte {
			return append(l[:6:6], resign(t, l[6], signer, func(st map[string]any) {
				pemKey, _ := PublicKeyPEM(key.Public())
				predicate(st)["keyId"], predicate(st)["publicKey"] = keyID(t, key), pemKey
			}))
		}, `line 7: witness "Alice" signs with the transcript key`},
		{"witness time not UTC (re-signed)", func(l [][]byte) [][]byte {
			l[6] = resign(t, l[6], keySigner(t, alice), func(st map[string]any) { predicate(st)["time"] = "2026-11-24T11:00:00+01:00" })
			return l
		}, "line 7: witness \"Alice\": time must be RFC 3339 in UTC"},
		{"witness subject renamed (re-signed)", func(l [][]byte) [][]byte {
			l[6] = resign(t, l[6], keySigner(t, alice), func(st map[string]any) { st["subject"].([]any)[0].(map[string]any)["name"] = "seal" })
			return l
		}, `line 7: a witness line's one subject must be "transcript:seal"`},
		{"garbage after the seal", func(l [][]byte) [][]byte { return append(l[:6:6], []byte("{}\n")) }, `line 7: payloadType ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := splitLines(good)
			for i := range l {
				l[i] = bytes.Clone(l[i])
			}
			data := join(tt.tamper(l))
			if bytes.Equal(data, good) {
				t.Fatal("tampering changed nothing")
			}
			v, err := Verify(data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Verify: %v (verified %v), want %q", err, v != nil, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

// TestVerifyEveryByteFlip changes each byte of a sealed, witnessed
// transcript in turn: every change must fail, with an error naming a line
// (or the missing seal), and nothing may panic.
func TestVerifyEveryByteFlip(t *testing.T) {
	key, alice := softKey(t, keyspec.ECDSAP256), softKey(t, keyspec.ECDSAP256)
	_, sealed := sealedFile(t, key)
	good := append(bytes.Clone(sealed), witnessLine(t, sealed, alice, WitnessInfo{Name: "Alice"})...)
	if _, err := Verify(good); err != nil {
		t.Fatal(err)
	}
	data := bytes.Clone(good)
	for i := range data {
		x := byte(1) << (i % 8) // every offset once, every bit position across them
		data[i] ^= x
		_, err := Verify(data)
		data[i] ^= x
		if err == nil {
			t.Fatalf("byte %d (%q) ^ %#x: verified", i, good[i], x)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "line ") && !strings.HasPrefix(msg, "not sealed") {
			t.Fatalf("byte %d ^ %#x: %v, want the line named", i, x, err)
		}
	}
}

// TestVerifyRespelledBase64: the same bytes in another base64 spelling
// change the line, and must fail even on the seal, which no later line
// chains to. An RSA-2048 signature is 256 bytes, so its base64 always ends
// in "==" and always has a second spelling.
func TestVerifyRespelledBase64(t *testing.T) {
	key := softKey(t, keyspec.RSA2048)
	_, good := sealedFile(t, key)
	tests := []struct {
		name    string
		respell func(sig string) string
	}{
		{"stray bits before the padding", func(sig string) string {
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
			i := len(sig) - 3 // the character before "==": its low 4 bits carry nothing
			return sig[:i] + string(alphabet[strings.IndexByte(alphabet, sig[i])^1]) + sig[i+1:]
		}},
		{"padding dropped", func(sig string) string { return strings.TrimRight(sig, "=") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := splitLines(good)
			env := envelopeOf(t, l[5])
			sig := env.Signatures[0].Sig
			env.Signatures[0].Sig = tt.respell(sig)
			l[5] = lineOf(t, env)
			if _, err := Verify(join(l)); err == nil || !strings.Contains(err.Error(), "line 6: signature: not standard base64") {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
	if !strings.HasSuffix(envelopeOf(t, splitLines(good)[5]).Signatures[0].Sig, "==") {
		t.Fatal("RSA-2048 signature without == padding")
	}
}

func TestStrictBase64(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"AQID", true}, {"AQI=", true}, {"AQ==", true}, {"", true},
		{"AQJ=", false}, {"AR==", false}, {"AQ", false}, {"-_8=", false}, {"+/8=", true}, {"AQ ==", false}, {"AQ==\n", false},
	}
	for _, tt := range tests {
		if _, err := strictBase64(tt.in); (err == nil) != tt.ok {
			t.Errorf("strictBase64(%q): %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}

// TestVerifyResignedByAnotherKeyIsAuditsJob: someone who re-signs every
// line with a key of their own, naming it in the header, makes a
// transcript that verifies on its own. Only the CA chain catches it: the
// transcript key's certificate (transcript.pem, chained to the ceremony CA)
// must have the header's signer key. That is package audit's check, which
// must cover this case; here the point is that Verify reports the key it
// checked against.
func TestVerifyResignedByAnotherKeyIsAuditsJob(t *testing.T) {
	key, attacker := softKey(t, keyspec.ECDSAP256), softKey(t, keyspec.ECDSAP256)
	_, sealed := sealedFile(t, key)
	v, err := Verify(sealed)
	if err != nil {
		t.Fatal(err)
	}
	entries := v.Entries
	pemKey, _ := PublicKeyPEM(attacker.Public())
	entries[0].Inputs["signer"] = map[string]any{"keyId": keyID(t, attacker), "publicKey": pemKey}
	forged := build(t, keySigner(t, attacker), entries)
	fv, err := Verify(forged)
	if err != nil {
		t.Fatalf("a fully re-signed transcript: %v", err)
	}
	if fv.SignerKeyID != keyID(t, attacker) || fv.SignerKeyID == v.SignerKeyID {
		t.Fatalf("Verify reports signer %s, want the forger's %s", fv.SignerKeyID, keyID(t, attacker))
	}
}

func TestVerifyUnsigned(t *testing.T) {
	path, _ := journal(t, nil) // no signer, no seal
	data, _ := os.ReadFile(path)
	if _, err := Verify(data); err == nil || !strings.Contains(err.Error(), "line 1: header: inputs.signer is missing") {
		t.Fatalf("Verify of an unsigned journal: %v", err)
	}
	key := softKey(t, keyspec.ECDSAP256)
	// A header that names a key, on lines nobody signed.
	data = build(t, nil, []Entry{signedHeader(t, key), {Kind: KindSeal}})
	if _, err := Verify(data); err == nil || !strings.Contains(err.Error(), "line 1: 0 signatures, want exactly one") {
		t.Fatalf("Verify of unsigned lines: %v", err)
	}
}

func TestVerifyKeyTypes(t *testing.T) {
	for _, kt := range []keyspec.Type{keyspec.ECDSAP256, keyspec.ECDSAP384, keyspec.RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			key, w := softKey(t, kt), softKey(t, kt)
			_, sealed := sealedFile(t, key)
			data := append(sealed, witnessLine(t, sealed, w, WitnessInfo{Name: "W"})...)
			if _, err := Verify(data); err != nil {
				t.Fatal(err)
			}
			data[len(data)-10] ^= 1
			if _, err := Verify(data); err == nil {
				t.Fatal("a changed witness line verified")
			}
		})
	}
}

// TestSealFigures: Append refuses a seal that does not count and digest the
// lines before it, so the journal never writes a seal Verify rejects.
func TestSealFigures(t *testing.T) {
	key := softKey(t, keyspec.ECDSAP256)
	ctx := context.Background()
	j, err := Create(ctx, filepath.Join(t.TempDir(), FileName), signedHeader(t, key), keySigner(t, key))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	n, sum, err := j.Sum()
	if err != nil || n != 1 {
		t.Fatalf("Sum: %d, %v", n, err)
	}
	data, _ := os.ReadFile(j.Path())
	if sum != sha256Hex(data) {
		t.Fatalf("Sum %s, want the file's sha256", sum)
	}
	tests := []struct {
		name    string
		results any
		want    string
	}{
		{"none", nil, `seal results need "lines" and "sha256"`},
		{"no sha256", map[string]any{"lines": 1}, `seal results need "lines" and "sha256"`},
		{"wrong count", map[string]any{"lines": 2, "sha256": sum}, "seal counts 2 lines before it, there are 1"},
		{"wrong digest", map[string]any{"lines": 1, "sha256": sha256Hex(nil)}, "seal sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Entry{Kind: KindSeal}
			if tt.results != nil {
				e.Results = mustJSON(t, tt.results)
			}
			if _, err := j.Append(ctx, e); err == nil || !strings.Contains(err.Error(), "refusing to write: "+tt.want) {
				t.Fatalf("Append: %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := j.Append(ctx, sealEntry(t, j)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Sum(); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(j.Path())
	if _, err := Verify(data); err != nil {
		t.Fatalf("Verify of a journal sealed with Sum: %v", err)
	}
	// Sealed: readable, never appended to.
	j.Close()
	j2, entries, err := Open(ctx, j.Path(), keySigner(t, key))
	if err != nil || entries[len(entries)-1].Kind != KindSeal {
		t.Fatalf("Open of a sealed journal: %v", err)
	}
	defer j2.Close()
	if _, err := j2.Append(ctx, Entry{Kind: KindStep}); err == nil || !strings.Contains(err.Error(), "journal is sealed") {
		t.Fatalf("Append after the seal: %v", err)
	}
}

// FuzzVerify: for any input Verify never panics, and whatever it accepts is
// sealed and consistent; and a valid transcript changed at any one byte
// (off, b) is never accepted. The transcript is small (header, seal, one
// witness line): every input costs a few signature checks, and the fuzzer
// minimises every new input it finds.
func FuzzVerify(f *testing.F) {
	valid := smallTranscript(f)
	f.Add(valid, uint(0), byte('x'))
	f.Add(valid[:len(valid)/2], uint(len(valid)-1), byte(' '))
	f.Fuzz(func(t *testing.T, data []byte, off uint, b byte) {
		if v, err := Verify(data); err == nil {
			if data[len(data)-1] != '\n' || v.Seal.Kind != KindSeal || len(v.Entries) != v.Seal.Seq+1 || v.SignerKey == nil {
				t.Fatalf("accepted an inconsistent transcript: %d entries, seal %d", len(v.Entries), v.Seal.Seq)
			}
		}
		i := int(off % uint(len(valid)))
		if valid[i] == b {
			return
		}
		changed := bytes.Clone(valid)
		changed[i] = b
		if _, err := Verify(changed); err == nil {
			t.Fatalf("byte %d changed from %q to %q: verified", i, valid[i], b)
		}
	})
}

// smallTranscript is a valid transcript of three lines: a header naming
// only the signer, the seal and a witness line.
func smallTranscript(t testing.TB) []byte {
	t.Helper()
	key := ecdsaKey(t)
	pemKey, err := PublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	h := Entry{Kind: KindHeader, Inputs: map[string]any{"signer": map[string]any{"keyId": keyID(t, key), "publicKey": pemKey}},
		Subjects: []Subject{NewSubject("config.yaml", "application/yaml", []byte("gun: x\n"))}}
	sealed := build(t, keySigner(t, key), []Entry{h, {Kind: KindSeal}})
	data := append(sealed, witnessLine(t, sealed, ecdsaKey(t), WitnessInfo{Name: "W"})...)
	if _, err := Verify(data); err != nil {
		t.Fatal(err)
	}
	return data
}

func ecdsaKey(t testing.TB) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// BenchmarkVerify10000 verifies a 10,000-line P-256 transcript; compare its
// lines/s with BenchmarkECDSAVerify's verifies/s, the floor.
func BenchmarkVerify10000(b *testing.B) {
	key := softKey(b, keyspec.ECDSAP256)
	entries := []Entry{signedHeader(b, key)}
	for range 10000 - 2 {
		entries = append(entries, benchEntry())
	}
	data := build(b, keySigner(b, key), append(entries, Entry{Kind: KindSeal}))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Verify(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkECDSAVerify is one bare P-256 signature check over a digest.
func BenchmarkECDSAVerify(b *testing.B) {
	key := ecdsaKey(b).(*ecdsa.PrivateKey)
	digest := sha256.Sum256([]byte("line"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			b.Fatal("does not verify")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// TestVerifyUnfinished: a transcript cut before its seal reads, line by
// line, with why it is unfinished; a torn last line is left out; a forged
// line is still refused; a sealed transcript reads as Verify reads it.
func TestVerifyUnfinished(t *testing.T) {
	key := softKey(t, keyspec.ECDSAP256)
	_, data := sealedFile(t, key)
	l := splitLines(data)
	other := keySigner(t, softKey(t, keyspec.ECDSAP256))
	for _, c := range []struct {
		name       string
		data       []byte
		entries    int
		unfinished string // "" when sealed
		err        string
	}{
		{"sealed", data, len(l), "", ""},
		{"seal dropped", join(l[:5]), 5, "not sealed: the ceremony did not finish (5 lines", ""},
		{"seal torn", append(join(l[:5]), l[5][:100]...), 5, "line 6: torn last line (incomplete write) (100 bytes)", ""},
		{"header only", join(l[:1]), 1, "not sealed", ""},
		{"header torn", l[0][:50], 0, "", "line 1:"},
		{"a line forged", join(append(append([][]byte{}, l[:2]...), resign(t, l[2], other, func(map[string]any) {}))), 0, "", "line 3:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, unfinished, err := VerifyUnfinished(c.data)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Entries) != c.entries {
				t.Errorf("%d entries, want %d", len(v.Entries), c.entries)
			}
			switch {
			case c.unfinished == "" && unfinished != nil:
				t.Errorf("sealed, yet unfinished: %v", unfinished)
			case c.unfinished != "" && (unfinished == nil || !strings.Contains(unfinished.Error(), c.unfinished) || !errors.Is(unfinished, ErrNotSealed)):
				t.Errorf("unfinished %v, want %q", unfinished, c.unfinished)
			}
			if _, err := Verify(c.data); (err == nil) != (c.unfinished == "") {
				t.Errorf("Verify disagrees: %v", err)
			}
		})
	}
}

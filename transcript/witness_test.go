package transcript

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

var witnessTime = time.Date(2026, 11, 24, 18, 30, 0, 0, time.FixedZone("CET", 3600))

// witnessLine is key's witness line over the sealed transcript data.
func witnessLine(t testing.TB, data []byte, key crypto.Signer, info WitnessInfo) []byte {
	t.Helper()
	line, err := SignWitness(context.Background(), data, keySigner(t, key), key.Public(), info, witnessTime)
	if err != nil {
		t.Fatal(err)
	}
	return line
}

func TestWitnessSignAppend(t *testing.T) {
	key, alice, bob := softKey(t, keyspec.ECDSAP256), softKey(t, keyspec.ECDSAP384), softKey(t, keyspec.RSA2048)
	path, sealed := sealedFile(t, key, DeclaredWitness{Name: "Alice", Role: "auditor", KeyID: keyID(t, alice)})

	line := witnessLine(t, sealed, alice, WitnessInfo{Statement: "followed the script; one exception: card 2 swapped"})
	w, err := AppendWitness(path, line)
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "Alice" || w.Role != "auditor" || w.Line != 7 || w.KeyID != keyID(t, alice) || !w.Time.Equal(witnessTime) {
		t.Fatalf("appended %+v", w)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Equal(data, append(bytes.Clone(sealed), line...)) {
		t.Fatal("append changed bytes before the witness line")
	}
	// The time is written in UTC, as RFC 3339.
	if p := decodePayload(t, line[:len(line)-1]); !strings.Contains(p, `"time":"2026-11-24T17:30:00Z"`) || !strings.Contains(p, `"predicateType":"`+WitnessPredicateType) {
		t.Fatalf("witness payload %s", p)
	}

	// Signing twice is refused, by SignWitness and by AppendWitness.
	if _, err := SignWitness(context.Background(), data, keySigner(t, alice), alice.Public(), WitnessInfo{}, witnessTime); err == nil ||
		!strings.Contains(err.Error(), "key "+keyID(t, alice)+` already witnessed this transcript (line 7, as "Alice")`) {
		t.Fatalf("second signature: %v", err)
	}
	again := witnessLine(t, sealed, alice, WitnessInfo{Name: "Alice again"})
	if _, err := AppendWitness(path, again); err == nil || !strings.Contains(err.Error(), "already witnessed") {
		t.Fatalf("second append: %v", err)
	}

	// An undeclared witness must give a name; Verify accepts it, and Declared
	// says it was not declared (audit's call).
	if _, err := SignWitness(context.Background(), data, keySigner(t, bob), bob.Public(), WitnessInfo{}, witnessTime); err == nil || !strings.Contains(err.Error(), "declares no witness with key") {
		t.Fatalf("undeclared witness without a name: %v", err)
	}
	if _, err := AppendWitness(path, witnessLine(t, data, bob, WitnessInfo{Name: "Bob", Role: "observer"})); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	v, err := Verify(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Witnesses) != 2 || v.Witnesses[1].Name != "Bob" || v.Witnesses[1].Line != 8 {
		t.Fatalf("witnesses %+v", v.Witnesses)
	}
	for _, d := range v.Declared {
		if d.KeyID == v.Witnesses[1].KeyID {
			t.Fatal("Bob shows as declared")
		}
	}
	// Read and Open still read a witnessed journal.
	if entries, err := Read(path); err != nil || len(entries) != 6 {
		t.Fatalf("Read: %d entries, %v", len(entries), err)
	}
}

func TestWitnessRefusals(t *testing.T) {
	key, w := softKey(t, keyspec.ECDSAP256), softKey(t, keyspec.ECDSAP256)
	_, sealed := sealedFile(t, key)
	_, other := sealedFile(t, key, DeclaredWitness{Name: "W", KeyID: keyID(t, w)}) // another ceremony, same transcript key
	unsealed := build(t, keySigner(t, key), []Entry{signedHeader(t, key), steps()[0]})
	flipped := bytes.Clone(sealed)
	flipped[100] ^= 1
	tests := []struct {
		name   string
		data   []byte
		signer crypto.Signer
		want   string
	}{
		{"unsealed", unsealed, w, "refusing to witness a transcript that does not verify: not sealed: the ceremony did not finish"},
		{"changed", flipped, w, "refusing to witness a transcript that does not verify: line 1: "},
		{"torn", sealed[:len(sealed)-3], w, "refusing to witness a transcript that does not verify: line 6: torn last line"},
		{"the transcript key", sealed, key, "is the transcript key: a witness signs with a key of their own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SignWitness(context.Background(), tt.data, keySigner(t, tt.signer), tt.signer.Public(), WitnessInfo{Name: "W"}, witnessTime)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SignWitness: %v, want %q", err, tt.want)
			}
		})
	}
	// A signer whose public key is not pub.
	if _, err := SignWitness(context.Background(), sealed, keySigner(t, w), key.Public(), WitnessInfo{Name: "W"}, witnessTime); err == nil || !strings.Contains(err.Error(), "does not hold the public key") {
		t.Fatalf("mismatched signer: %v", err)
	}

	// AppendWitness re-checks under the lock: a line over another seal, a
	// torn file, a file in use.
	path := filepath.Join(t.TempDir(), FileName)
	os.WriteFile(path, sealed, 0o600)
	if _, err := AppendWitness(path, witnessLine(t, other, w, WitnessInfo{Name: "W"})); err == nil || !strings.Contains(err.Error(), "witness line: witness line of another transcript") {
		t.Fatalf("append over another seal: %v", err)
	}
	if _, err := AppendWitness(path, bytes.TrimSuffix(witnessLine(t, sealed, w, WitnessInfo{Name: "W"}), []byte("\n"))); err == nil || !strings.Contains(err.Error(), "one line ending in a newline") {
		t.Fatalf("append without newline: %v", err)
	}
	j, _, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AppendWitness(path, witnessLine(t, sealed, w, WitnessInfo{Name: "W"})); !errors.Is(err, ErrInUse) {
		t.Fatalf("append while the journal is open: %v", err)
	}
	j.Close()
	torn := append(bytes.Clone(sealed), `{"payloadType":`...)
	os.WriteFile(path, torn, 0o600)
	if _, err := AppendWitness(path, witnessLine(t, sealed, w, WitnessInfo{Name: "W"})); !errors.Is(err, ErrTornTail) ||
		!strings.Contains(err.Error(), "after the seal, as an interrupted witness signature leaves") {
		t.Fatalf("append to a torn file: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, torn) {
		t.Fatal("a refused append changed the file")
	}
}

func TestMerge(t *testing.T) {
	key := softKey(t, keyspec.ECDSAP256)
	alice, bob, carol := softKey(t, keyspec.ECDSAP256), softKey(t, keyspec.ECDSAP256), softKey(t, keyspec.ECDSAP256)
	_, sealed := sealedFile(t, key)
	with := func(lines ...[]byte) []byte { return append(bytes.Clone(sealed), bytes.Join(lines, nil)...) }
	a1 := witnessLine(t, sealed, alice, WitnessInfo{Name: "Alice"})
	b1 := witnessLine(t, sealed, bob, WitnessInfo{Name: "Bob"})
	c1 := witnessLine(t, sealed, carol, WitnessInfo{Name: "Carol"})
	a2 := witnessLine(t, sealed, alice, WitnessInfo{Name: "Alice", Statement: "signed the other copy too"})
	_, otherSealed := sealedFile(t, key, DeclaredWitness{Name: "Bob", KeyID: keyID(t, bob)})

	tests := []struct {
		name  string
		a, b  []byte
		want  []byte   // nil: an error
		names []string // witnesses of the result
		err   string
	}{
		{"different witnesses", with(a1), with(b1, c1), with(a1, b1, c1), []string{"Alice", "Bob", "Carol"}, ""},
		{"overlap kept once", with(a1, b1), with(b1, c1), with(a1, b1, c1), []string{"Alice", "Bob", "Carol"}, ""},
		{"same copy", with(a1), with(a1), with(a1), []string{"Alice"}, ""},
		{"no witnesses", sealed, sealed, sealed, nil, ""},
		{"one side bare", sealed, with(b1), with(b1), []string{"Bob"}, ""},
		{"same witness on both copies counts once", with(a1), with(a2), with(a1, a2), []string{"Alice"}, ""},
		{"different ceremonies", with(a1), append(bytes.Clone(otherSealed), witnessLine(t, otherSealed, bob, WitnessInfo{Name: "Bob"})...), nil, nil, "not copies of one transcript: line 1 differs"},
		{"second does not verify", with(a1), with(b1)[:len(with(b1))-5], nil, nil, "second transcript: line 7: torn last line"},
		{"first unsealed", sealed[:len(sealed)-len(splitLines(sealed)[5])], sealed, nil, nil, "first transcript: not sealed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Merge(tt.a, tt.b)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Merge: %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("merged:\n%s\nwant:\n%s", got, tt.want)
			}
			v, err := Verify(got)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, w := range v.Witnesses {
				names = append(names, w.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.names, ",") {
				t.Fatalf("witnesses %v, want %v", names, tt.names)
			}
		})
	}
}

package transcript

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

var t0 = time.Date(2026, 11, 24, 10, 2, 11, 123456789, time.FixedZone("CET", 3600))

func header() Entry {
	return Entry{
		Started: t0, Finished: t0, Operator: "alice",
		Inputs:   map[string]any{"tool": "ceremony dev", "hsm": map[string]any{"module": "/usr/lib/softhsm/libsofthsm2.so", "pin": "env:CEREMONY_PIN"}},
		Subjects: []Subject{{Name: "ceremony", Digest: map[string]string{"sha256": sha256Hex([]byte("binary"))}}},
	}
}

func steps() []Entry {
	return []Entry{
		{Kind: KindStep, Step: &StepRef{ID: "create-ca", Title: "Create CA", Attempt: 1}, Started: t0, Finished: t0.Add(time.Second),
			Inputs:   map[string]any{"label": "ca", "days": 7300},
			Results:  json.RawMessage(`{"ca":{"spkiSha256":"abc"}}`),
			Subjects: []Subject{NewSubject("ca.pem", "application/x-pem-file", []byte("-----BEGIN CERTIFICATE-----\n"))}},
		{Kind: KindFailure, Step: &StepRef{ID: "root-key", Attempt: 1}, Started: t0, Finished: t0, Error: "token removed"},
		{Kind: KindStep, Step: &StepRef{ID: "root-key", Attempt: 2}, Started: t0, Finished: t0,
			Subjects: []Subject{NewSubject("root.csr", "application/pkcs10", []byte{1, 2, 3}), NewSubject("root.crt", "", []byte{4})}},
		{Kind: KindDeviation, Operator: "bob", Results: json.RawMessage(`{"text":"card 2 swapped"}`)},
	}
}

// journal writes a header and the steps and returns the path, closed.
func journal(t testing.TB, signer Signer) (string, []Entry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	j, err := Create(context.Background(), path, header(), signer)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range steps() {
		if _, err := j.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	entries := j.Entries()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path, entries
}

func lines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.SplitAfter(data[:len(data)-1], []byte("\n")) // each keeps its '\n' but the last
}

func TestRoundTrip(t *testing.T) {
	path, written := journal(t, nil)
	if len(written) != 5 {
		t.Fatalf("%d entries, want 5", len(written))
	}
	j, opened, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	read, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(written, opened) || !reflect.DeepEqual(written, read) {
		t.Fatalf("entries differ:\nwritten %+v\nopened  %+v\nread    %+v", written, opened, read)
	}
	raw := lines(t, path)
	want := steps()
	for i, e := range read {
		if e.Seq != i {
			t.Errorf("entry %d: seq %d", i, e.Seq)
		}
		if i == 0 {
			if e.Kind != KindHeader || e.Prev != "" {
				t.Errorf("header: kind %q prev %q", e.Kind, e.Prev)
			}
			continue
		}
		if wantPrev := lineDigest(bytes.TrimSuffix(raw[i-1], []byte("\n"))); e.Prev != wantPrev {
			t.Errorf("entry %d: prev %s, want %s", i, e.Prev, wantPrev)
		}
		if !e.Started.Equal(want[i-1].Started) || e.Started.Location() != time.UTC && !e.Started.IsZero() {
			t.Errorf("entry %d: started %v, want %v in UTC", i, e.Started, want[i-1].Started)
		}
		if len(e.Subjects) != len(want[i-1].Subjects) {
			t.Fatalf("entry %d: %d subjects, want %d", i, len(e.Subjects), len(want[i-1].Subjects))
		}
		for k, s := range e.Subjects {
			sum := sha256.Sum256(want[i-1].Subjects[k].Content)
			if s.Digest["sha256"] != hex.EncodeToString(sum[:]) || !bytes.Equal(s.Content, want[i-1].Subjects[k].Content) {
				t.Errorf("entry %d subject %s: digest or content not restored", i, s.Name)
			}
		}
	}
	if !strings.Contains(decodePayload(t, raw[1]), `"started":"2026-11-24T09:02:11.123456789Z"`) {
		t.Errorf("times not written as RFC 3339 nano UTC: %s", decodePayload(t, raw[1]))
	}
	// The journal keeps appending where it was.
	e, err := j.Append(context.Background(), sealEntry(t, j))
	if err != nil || e.Seq != 5 {
		t.Fatalf("append after reopen: seq %d, %v", e.Seq, err)
	}
	if _, err := j.Append(context.Background(), Entry{Kind: KindStep}); err == nil || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("append after seal: %v", err)
	}
	// A well-formed, chained line after the seal is still refused by readers.
	raw = lines(t, path)
	after := Entry{Seq: 6, Kind: KindStep, Prev: lineDigest(raw[5])}
	line, err := encodeLine(context.Background(), &after, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(data, line...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "line 7: entry after the seal") {
		t.Fatalf("Read of a line after the seal: %v", err)
	}
}

func TestSubjectChecks(t *testing.T) {
	good := NewSubject("ca.pem", "application/x-pem-file", []byte("ca"))
	tests := []struct {
		name string
		s    Subject
		want string
	}{
		{"content differs from digest", Subject{Name: "ca.pem", Digest: good.Digest, Content: []byte("other")}, "does not match its content"},
		{"reserved name", Subject{Name: PrevSubjectName, Digest: good.Digest}, "reserved"},
		{"no name", Subject{Digest: good.Digest}, "name empty"},
		{"no sha256", Subject{Name: "x", Digest: map[string]string{"sha512": "00"}}, "needs sha256"},
		{"uppercase hex", Subject{Name: "x", Digest: map[string]string{"sha256": strings.ToUpper(good.Digest["sha256"])}}, "lowercase"},
		{"not hex", Subject{Name: "x", Digest: map[string]string{"sha256": strings.Repeat("g", 64)}}, "not hex"},
	}
	path, _ := journal(t, nil)
	j, _, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := j.Append(context.Background(), Entry{Kind: KindStep, Subjects: []Subject{good, tt.s}})
			if err == nil || !strings.Contains(err.Error(), "refusing to write: subject 2") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Append: %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := j.Append(context.Background(), Entry{Kind: KindStep, Subjects: []Subject{good}}); err != nil {
		t.Fatalf("journal unusable after refusals: %v", err)
	}
}

func decodePayload(t testing.TB, line []byte) string {
	t.Helper()
	var env dsse.Envelope
	if err := json.Unmarshal(line, &env); err != nil {
		t.Fatal(err)
	}
	p, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return string(p)
}

// reencode rewrites line's predicate through edit, keeping the line well formed.
func reencode(t testing.TB, line []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var st map[string]any
	if err := json.Unmarshal([]byte(decodePayload(t, line)), &st); err != nil {
		t.Fatal(err)
	}
	edit(st["predicate"].(map[string]any))
	p, _ := json.Marshal(st)
	out, _ := json.Marshal(dsse.Envelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(p), Signatures: []dsse.Signature{}})
	return append(out, '\n')
}

func TestChainCheck(t *testing.T) {
	tests := []struct {
		name   string
		tamper func([][]byte) [][]byte
		want   string
	}{
		{"flipped byte in line 2", func(l [][]byte) [][]byte {
			l[1] = bytes.Clone(l[1])
			l[1][40] ^= 0x01 // inside the base64 payload
			return l
		}, "line 2: "},
		{"line 2 rewritten validly", func(l [][]byte) [][]byte {
			l[1] = reencode(t, l[1], func(p map[string]any) { p["operator"] = "mallory" })
			return l
		}, "line 3: prev does not match line 2"},
		{"line 3 removed", func(l [][]byte) [][]byte {
			return append(l[:2:2], l[3:]...)
		}, "line 3: prev does not match line 2"},
		{"lines 3 and 4 swapped", func(l [][]byte) [][]byte {
			l[2], l[3] = l[3], l[2]
			return l
		}, "line 3: prev does not match line 2"},
		{"line 3 duplicated", func(l [][]byte) [][]byte {
			return append(l[:3:3], l[2:]...)
		}, "line 4: prev does not match line 3"},
		{"header removed", func(l [][]byte) [][]byte { return l[1:] }, "line 1: prev"},
		{"seq changed with chain intact", func(l [][]byte) [][]byte {
			l[4] = reencode(t, l[4], func(p map[string]any) { p["seq"] = 7 })
			return l
		}, "line 5: seq 7, want 4"},
		{"second header", func(l [][]byte) [][]byte {
			l[4] = reencode(t, l[4], func(p map[string]any) { p["kind"] = KindHeader })
			return l
		}, `line 5: kind "header" not allowed`},
		{"blank line", func(l [][]byte) [][]byte {
			return append(l[:2:2], append([][]byte{[]byte("\n")}, l[2:]...)...)
		}, "line 3: not a DSSE envelope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := journal(t, nil)
			l := lines(t, path)
			l[len(l)-1] = append(bytes.Clone(l[len(l)-1]), '\n')
			data := bytes.Join(tt.tamper(l), nil)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Read: %v, want an error naming %s and %q", err, path, tt.want)
			}
			// Open refuses as well and leaves the file alone.
			if j, _, err := Open(context.Background(), path, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				j.Close()
				t.Fatalf("Open: %v, want %q", err, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Fatal("Open changed a tampered journal")
			}
		})
	}
}

func TestTornTail(t *testing.T) {
	tests := []struct {
		name string
		torn func(next []byte) []byte
	}{
		{"half a line", func(next []byte) []byte { return next[:len(next)/2] }},
		{"all but the newline", func(next []byte) []byte { return next[:len(next)-1] }},
		{"zeros", func(next []byte) []byte { return make([]byte, 100) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, before := journal(t, nil)
			good, _ := os.ReadFile(path)
			// A line the journal would write next, cut short as a crash would.
			e := Entry{Seq: len(before), Kind: KindStep, Prev: lineDigest(bytes.TrimSuffix(lines(t, path)[len(before)-1], []byte("\n")))}
			next, err := encodeLine(context.Background(), &e, nil)
			if err != nil {
				t.Fatal(err)
			}
			torn := tt.torn(next)
			if err := os.WriteFile(path, append(bytes.Clone(good), torn...), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Read(path); !errors.Is(err, ErrTornTail) || !strings.Contains(err.Error(), "line 6") {
				t.Fatalf("Read of a torn journal: %v", err)
			}
			j, entries, err := Open(context.Background(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if len(entries) != len(before)+1 || !reflect.DeepEqual(entries[:len(before)], before) {
				t.Fatalf("entries after repair: %d, want the %d before plus resume", len(entries), len(before))
			}
			resume := entries[len(entries)-1]
			sum := sha256.Sum256(torn)
			var res struct {
				TornTail struct {
					Bytes  int    `json:"bytes"`
					SHA256 string `json:"sha256"`
				} `json:"tornTail"`
			}
			if err := json.Unmarshal(resume.Results, &res); err != nil {
				t.Fatal(err)
			}
			if resume.Kind != KindResume || res.TornTail.Bytes != len(torn) || res.TornTail.SHA256 != hex.EncodeToString(sum[:]) {
				t.Fatalf("resume entry %+v, results %s; want %d bytes, sha256 %x", resume, resume.Results, len(torn), sum)
			}
			after, _ := os.ReadFile(path)
			if !bytes.HasPrefix(after, good) || bytes.Count(after[len(good):], []byte("\n")) != 1 {
				t.Fatal("repair did not keep the good prefix and drop the torn bytes")
			}
			read, err := Read(path)
			if err != nil || !reflect.DeepEqual(read, entries) {
				t.Fatalf("Read after repair: %v", err)
			}
			if e, err := j.Append(context.Background(), Entry{Kind: KindStep}); err != nil || e.Seq != len(entries) {
				t.Fatalf("append after repair: %v", err)
			}
		})
	}
}

func TestTornHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	e := header()
	e.Kind = KindHeader
	line, err := encodeLine(context.Background(), &e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, line[:30], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(context.Background(), path, nil); !errors.Is(err, ErrTornTail) || !strings.Contains(err.Error(), "never started") {
		t.Fatalf("Open of a torn header: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, line[:30]) {
		t.Fatal("Open changed a torn header")
	}
}

// TestCompleteBadLineIsNotTorn: a newline-terminated line that does not parse
// was damaged after it was written, not torn by a crash; Open must refuse it
// rather than cut it off (a damaged seal must not reopen a ceremony).
func TestCompleteBadLineIsNotTorn(t *testing.T) {
	path, _ := journal(t, nil)
	good, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(good, []byte("\n"))
	last := lines[len(lines)-2]
	damaged := append(bytes.Clone(good[:len(good)-len(last)]), append([]byte("{\"payloadType\":"), '\n')...)
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(context.Background(), path, nil); err == nil || errors.Is(err, ErrTornTail) {
		t.Fatalf("Open of a damaged last line: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, damaged) {
		t.Fatal("Open changed a damaged journal")
	}
}

func TestCreateRefusesExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte("earlier ceremony\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(context.Background(), path, header(), nil); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "earlier ceremony\n" {
		t.Fatalf("existing file changed: %q", data)
	}
}

func TestCreateFailureLeavesNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	h := header()
	h.Subjects = nil // in-toto needs a subject on the header
	if _, err := Create(context.Background(), path, h, nil); err == nil || !strings.Contains(err.Error(), "subject") {
		t.Fatalf("Create without subject: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("failed Create left a file: %v", err)
	}
}

func TestLock(t *testing.T) {
	path, _ := journal(t, nil)
	j, _, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// flock belongs to the open file description, so a second Open in this
	// process conflicts just like another process would.
	if _, _, err := Open(context.Background(), path, nil); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "in use by another ceremony process") {
		t.Fatalf("second Open: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := j.Append(context.Background(), Entry{Kind: KindStep}); err == nil {
		t.Fatal("Append after Close succeeded")
	}
	j2, _, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	j2.Close()
}

type ecdsaSigner struct{ key *ecdsa.PrivateKey }

func (s ecdsaSigner) KeyID() string {
	der, _ := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	return "sha256:" + sha256Hex(der)
}

func (s ecdsaSigner) Sign(_ context.Context, pae []byte) ([]byte, error) {
	h := sha256.Sum256(pae)
	return ecdsa.SignASN1(rand.Reader, s.key, h[:])
}

func TestSigner(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer := ecdsaSigner{key}
	path, _ := journal(t, signer)
	for i, line := range lines(t, path) {
		var env dsse.Envelope
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatal(err)
		}
		if len(env.Signatures) != 1 || env.Signatures[0].KeyID != signer.KeyID() {
			t.Fatalf("line %d: signatures %+v", i+1, env.Signatures)
		}
		payload, _ := base64.StdEncoding.DecodeString(env.Payload)
		sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
		h := sha256.Sum256(dsse.PAE(env.PayloadType, payload))
		if !ecdsa.VerifyASN1(&key.PublicKey, h[:], sig) {
			t.Fatalf("line %d: signature does not verify over the PAE", i+1)
		}
	}
	// Unsigned journals still write DSSE's signatures as a list.
	path, _ = journal(t, nil)
	if l := lines(t, path)[0]; !bytes.Contains(l, []byte(`"signatures":[]`)) {
		t.Fatalf("unsigned line: %s", l)
	}
}

func TestSecretInputs(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]any
		bad    string // key path in the error; "" = accepted
	}{
		{"plain", map[string]any{"gun": "docker.io/alice/nginx", "days": 375}, ""},
		{"pin from env", map[string]any{"pin": "env:CEREMONY_PIN"}, ""},
		{"PIN from file", map[string]any{"userPIN": "file:/run/pin"}, ""},
		{"passphrase prompted", map[string]any{"targets_Passphrase": "prompt"}, ""},
		{"flag", map[string]any{"pinRequired": true, "secretStore": nil}, ""},
		{"pin value", map[string]any{"pin": "123456"}, "inputs.pin"},
		{"nested pin", map[string]any{"hsm": map[string]any{"module": "x.so", "soPin": "87654321"}}, "inputs.hsm.soPin"},
		{"numeric password", map[string]any{"Password": 1234}, "inputs.Password"},
		{"secret list", map[string]any{"secrets": []any{"env:A", "hunter2"}}, "inputs.secrets[1]"},
		{"struct field", map[string]any{"notary": struct {
			Snapshot string `json:"snapshot_passphrase"`
		}{"s3cr3t"}}, "inputs.notary.snapshot_passphrase"},
		{"bad source kind", map[string]any{"pin": "literal:1234"}, "inputs.pin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := journal(t, nil)
			j, _, err := Open(context.Background(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			before, _ := os.ReadFile(path)
			_, err = j.Append(context.Background(), Entry{Kind: KindStep, Inputs: tt.inputs})
			if tt.bad == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.bad+" looks like a secret") {
				t.Fatalf("Append: %v, want refusal naming %s", err, tt.bad)
			}
			for _, v := range []string{"123456", "87654321", "1234", "hunter2", "s3cr3t"} {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("error echoes the secret: %v", err)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("a refused entry changed the file")
			}
		})
	}
	// The header is guarded too.
	h := header()
	h.Inputs = map[string]any{"hsm": map[string]any{"pin": "1234"}}
	if _, err := Create(context.Background(), filepath.Join(t.TempDir(), FileName), h, nil); err == nil {
		t.Fatal("Create accepted a PIN in the header")
	}
}

// TestStatementShape reads each line as a generic in-toto consumer would.
func TestStatementShape(t *testing.T) {
	path, _ := journal(t, nil)
	for i, line := range lines(t, path) {
		var env map[string]any
		if err := json.Unmarshal(line, &env); err != nil {
			t.Fatal(err)
		}
		if env["payloadType"] != "application/vnd.in-toto+json" {
			t.Fatalf("line %d: payloadType %v", i+1, env["payloadType"])
		}
		if _, ok := env["signatures"].([]any); !ok {
			t.Fatalf("line %d: signatures %v", i+1, env["signatures"])
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(decodePayload(t, line)), &st); err != nil {
			t.Fatal(err)
		}
		if st["_type"] != "https://in-toto.io/Statement/v1" || st["predicateType"] != "https://ceremony.dev/transcript/entry/v1" {
			t.Fatalf("line %d: _type %v predicateType %v", i+1, st["_type"], st["predicateType"])
		}
		if _, ok := st["predicate"].(map[string]any); !ok {
			t.Fatalf("line %d: predicate %T", i+1, st["predicate"])
		}
		subjects, _ := st["subject"].([]any)
		if len(subjects) == 0 {
			t.Fatalf("line %d: no subject (in-toto v1 requires one)", i+1)
		}
		for _, s := range subjects {
			s := s.(map[string]any)
			digest, _ := s["digest"].(map[string]any)
			d, _ := digest["sha256"].(string)
			if len(digest) != 1 || len(d) != 64 || s["name"] == "" {
				t.Fatalf("line %d: subject %v", i+1, s)
			}
			if c, ok := s["content"].(string); ok {
				b, _ := base64.StdEncoding.DecodeString(c)
				if sha256Hex(b) != d {
					t.Fatalf("line %d: content does not match digest", i+1)
				}
			}
		}
		if i > 0 {
			first := subjects[0].(map[string]any)
			prevLine := bytes.TrimSuffix(lines(t, path)[i-1], []byte("\n"))
			if first["name"] != PrevSubjectName || first["digest"].(map[string]any)["sha256"] != sha256Hex(prevLine) {
				t.Fatalf("line %d: first subject %v does not name the previous line", i+1, first)
			}
		}
	}
}

// FuzzRead fuzzes parse, which is all of Read but os.ReadFile: going
// through the file system is ten times slower and starves the fuzzer's time
// slices.
func FuzzRead(f *testing.F) {
	path, _ := journal(f, nil)
	good, _ := os.ReadFile(path)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := parse(data)
		if err != nil {
			return
		}
		// Whatever parse accepts is a complete, chained journal.
		if n := bytes.Count(data, []byte("\n")); n != len(entries) || data[len(data)-1] != '\n' {
			t.Fatalf("accepted %d entries from %d lines", len(entries), n)
		}
		for i, e := range entries {
			if e.Seq != i || (i == 0) != (e.Kind == KindHeader) {
				t.Fatalf("entry %d: seq %d kind %q", i, e.Seq, e.Kind)
			}
		}
	})
}

// benchEntry is a typical step entry: a certificate inline, a few inputs.
func benchEntry() Entry {
	return Entry{Kind: KindStep, Step: &StepRef{ID: "repo-cert", Attempt: 1}, Started: t0, Finished: t0,
		Inputs:   map[string]any{"gun": "docker.io/alice/nginx", "days": 375},
		Subjects: []Subject{NewSubject("repo.pem", "application/x-pem-file", bytes.Repeat([]byte("A"), 700))}}
}

func BenchmarkAppend(b *testing.B) {
	j, err := Create(context.Background(), filepath.Join(b.TempDir(), FileName), header(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	e := benchEntry()
	last, _ := j.Append(context.Background(), e)
	b.SetBytes(int64(len(lines(b, j.Path())[last.Seq]))) // same unit as the bare benchmark
	for b.Loop() {
		if _, err := j.Append(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteSyncBare is the floor Append is measured against: the same
// bytes, one write and one fsync, no encoding or checks.
func BenchmarkWriteSyncBare(b *testing.B) {
	e := benchEntry()
	e.Seq, e.Prev = 1, lineDigest(nil)
	line, err := encodeLine(context.Background(), &e, nil)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(b.TempDir(), FileName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
}

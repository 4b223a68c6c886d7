package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/audit/audittest"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/transcript"
)

// The transcript format is specified in docs/transcript.md so precisely that
// a verifier can be written from it alone; docs/verify-transcript.py is one,
// in Python's standard library plus the openssl command. These tests hold the
// document to that: the independent verifier must accept real transcripts and
// reject tampered copies on the line transcript.Verify rejects them, and the
// worked example's values must be what they claim.

const (
	specDoc      = "../../docs/transcript.md"
	specVerifier = "../../docs/verify-transcript.py"
)

// TestSpecVerifier runs docs/verify-transcript.py on a real ceremony's
// transcript (SoftHSM2, notary-server, two declared witnesses signed), on one
// written through the journal with every entry kind and an RSA transcript key,
// and on tampered copies of both.
func TestSpecVerifier(t *testing.T) {
	t.Parallel()
	python := specTool(t, "python3")
	specTool(t, "openssl")
	dir := t.TempDir()

	c := audittest.Run(t)
	real := audittest.Read(t, c.Transcript)
	real = append(real, audittest.WitnessLine(t, real, c.Bob, "Bob")...) // P-384, after Alice's P-256
	synthetic := everyKindTranscript(t, filepath.Join(dir, "synthetic.jsonl"))
	sealLine := sealLineOf(t, real)

	cases := []struct {
		name string
		data []byte
	}{
		{"real", real},
		{"every-kind", synthetic},
		{"signature-byte-flipped", flipSignature(t, real, 3)},
		{"line-removed", without(real, 4)},
		{"seal-dropped", bytes.Join(audittest.Lines(real)[:sealLine-1], nil)},
		{"lines-swapped", swap(real, 5, 6)},
		{"envelope-respaced", respace(real, sealLine)},
		{"seal-replaced-by-a-step", withLine(real, sealLine, audittest.Lines(real)[sealLine-2])},
		{"header-key-id-wrong", audittest.Resign(t, real, c.TranscriptSigner(t), func(seq int, st audittest.Statement) {
			if seq == 0 {
				st.Predicate()["inputs"].(map[string]any)["signer"].(map[string]any)["keyId"] = "sha256:" + strings.Repeat("0", 64)
			}
		})},
		{"seal-miscounts", resign(t, real, sealLine, c.TranscriptSigner(t), func(results map[string]any) { results["lines"] = sealLine - 2 })},
		{"seal-misdigests", resign(t, real, sealLine, c.TranscriptSigner(t), func(results map[string]any) { results["sha256"] = strings.Repeat("ab", 32) })},
		{"entry-after-the-seal", append(bytes.Clone(real), audittest.Lines(real)[1]...)},
		{"witness-line-repeated", append(bytes.Clone(real), audittest.Lines(real)[sealLine]...)},
		{"torn-tail", real[:len(real)-9]},
		{"witness-signature-flipped", flipSignature(t, real, len(audittest.Lines(real)))},
		{"every-kind-rsa-signature-flipped", flipSignature(t, synthetic, 2)},
		{"every-kind-torn-tail", append(bytes.Clone(synthetic), `{"payloadType":"appl`...)},
		{"empty", nil},
	}
	paths := make([]string, len(cases))
	for i, tc := range cases {
		paths[i] = filepath.Join(dir, tc.name+".jsonl")
		audittest.Write(t, paths[i], tc.data)
	}

	t.Run("file-alone", func(t *testing.T) {
		t.Parallel()
		r := runVerifier(t, python, paths...)
		for i, tc := range cases {
			_, goErr := transcript.Verify(tc.data)
			line, msg, failed := r.failure(paths[i])
			switch {
			case goErr == nil && failed:
				t.Errorf("%s: transcript.Verify accepts it, the independent verifier says: %s", tc.name, msg)
			case goErr == nil && !strings.Contains(r.stdout, paths[i]+": verified"):
				t.Errorf("%s: no verdict from the independent verifier:\n%s", tc.name, r.stdout)
			case goErr != nil && !failed:
				t.Errorf("%s: the independent verifier accepts it, transcript.Verify says: %v", tc.name, goErr)
			case goErr != nil && line != goLine(goErr):
				t.Errorf("%s: the independent verifier fails at line %d (%s), transcript.Verify at line %d (%v)", tc.name, line, msg, goLine(goErr), goErr)
			}
		}
		t.Logf("verify-transcript.py:\n%s%s", r.stdout, r.stderr)
		if r.code != 1 {
			t.Errorf("exit %d with some files failing, want 1\n%s", r.code, r.stderr)
		}
		if want := "2 of 2 declared witnesses signed"; !strings.Contains(r.stdout, want) {
			t.Errorf("the real transcript's summary lacks %q:\n%s", want, r.stdout)
		}
	})

	// With --ca the independent verifier ties the transcript key to the CA, as
	// `ceremony verify` does: a transcript re-signed by a key another CA
	// certified is consistent in itself and fails only there.
	t.Run("ca", func(t *testing.T) {
		t.Parallel()
		other := filepath.Join(dir, "other-ca.jsonl")
		audittest.Write(t, other, audittest.SignerFromOtherCA(t, real))
		if _, err := transcript.Verify(audittest.Read(t, other)); err != nil {
			t.Fatalf("the re-signed transcript should be consistent in itself: %v", err)
		}
		res, err := audit.Verify(context.Background(), other, audit.Options{CA: c.CA})
		if err != nil || res.OK || res.Failure.Check != audit.CheckSigner {
			t.Fatalf("ceremony verify should fail the signer certificate check: %+v %v", res.Failure, err)
		}
		r := runVerifier(t, python, "--ca", c.CAFile, "--require-witnesses", "2", paths[0], other)
		if _, msg, failed := r.failure(paths[0]); failed || !strings.Contains(r.stdout, "ca.pem is the CA given") {
			t.Errorf("the real transcript fails with --ca: %s\n%s", msg, r.stdout)
		}
		line, msg, failed := r.failure(other)
		if !failed || line != res.Failure.Line || !strings.Contains(msg, "transcript.pem was not issued by the CA given") {
			t.Errorf("re-signed by another CA's key: line %d %q, want line %d (%s)", line, msg, res.Failure.Line, res.Failure.Message)
		}
	})

	t.Run("require-witnesses", func(t *testing.T) {
		t.Parallel()
		r := runVerifier(t, python, "--require-witnesses", "3", paths[0])
		if _, msg, failed := r.failure(paths[0]); !failed || !strings.Contains(msg, "3 declared witnesses must sign, 2 did") {
			t.Errorf("--require-witnesses 3 with two signed: exit %d %q", r.code, msg)
		}
	})
}

// TestSpecVectors checks the worked example of docs/transcript.md §14: the
// values marked <!-- vector NAME --> must agree with each other, by the
// format's own rules (signatures by transcript.VerifySignature).
func TestSpecVectors(t *testing.T) {
	t.Parallel()
	v := specVectors(t)
	seal, witness := []byte(v["seal-line"]), []byte(v["witness-line"])
	if got := audittest.SHA256Hex(seal); got != v["seal-line-sha256"] {
		t.Errorf("sha256 of the seal line is %s, the document says %s", got, v["seal-line-sha256"])
	}
	block, _ := pem.Decode([]byte(v["transcript-public-key"] + "\n"))
	if block == nil {
		t.Fatal("transcript-public-key is not PEM")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := keyspec.KeyID(pub); id != v["transcript-key-id"] {
		t.Errorf("key ID of the transcript key is %s, the document says %s", id, v["transcript-key-id"])
	}

	payload, keyID, sig := specEnvelope(t, seal)
	pae := dsse.PAE(transcript.PayloadType, payload)
	if sum := sha256.Sum256(pae); hex.EncodeToString(sum[:]) != v["seal-pae-sha256"] {
		t.Errorf("sha256 of the seal's PAE is %x, the document says %s", sum, v["seal-pae-sha256"])
	}
	if keyID != v["transcript-key-id"] {
		t.Errorf("the seal is signed by %s, the document's transcript key is %s", keyID, v["transcript-key-id"])
	}
	if err := transcript.VerifySignature(pub, pae, sig); err != nil {
		t.Errorf("the seal's signature: %v", err)
	}

	payload, keyID, sig = specEnvelope(t, witness)
	var st struct {
		Subject   []transcript.Subject `json:"subject"`
		Predicate struct {
			KeyID     string `json:"keyId"`
			PublicKey string `json:"publicKey"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Subject) != 1 || st.Subject[0].Name != transcript.SealSubjectName || st.Subject[0].Digest["sha256"] != v["seal-line-sha256"] {
		t.Errorf("the witness line does not sign the seal line's digest: %+v", st.Subject)
	}
	block, _ = pem.Decode([]byte(st.Predicate.PublicKey))
	wpub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := keyspec.KeyID(wpub); id != st.Predicate.KeyID || id != keyID {
		t.Errorf("witness key ID %s, its line says %s and %s", id, st.Predicate.KeyID, keyID)
	}
	if err := transcript.VerifySignature(wpub, dsse.PAE(transcript.PayloadType, payload), sig); err != nil {
		t.Errorf("the witness line's signature: %v", err)
	}
}

// specTool finds a command the specification tests need. They fail rather
// than skip without it: the independent verifier is part of the acceptance path.
func specTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: the specification test runs docs/verify-transcript.py with python3 and openssl; install it (make deps)", name)
	}
	return p
}

type verifierRun struct {
	code           int
	stdout, stderr string
}

func runVerifier(t *testing.T, python string, args ...string) verifierRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{specVerifier}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := verifierRun{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if r.code > 1 {
		t.Fatalf("verify-transcript.py: exit %d\n%s", r.code, r.stderr)
	}
	return r
}

var lineRe = regexp.MustCompile(`^line (\d+): `)

// failure is the verifier's one stderr line about path: the line it names (0
// for none) and the reason.
func (r verifierRun) failure(path string) (line int, msg string, failed bool) {
	for l := range strings.SplitSeq(r.stderr, "\n") {
		if rest, ok := strings.CutPrefix(l, path+": "); ok {
			if m := lineRe.FindStringSubmatch(rest); m != nil {
				line, _ = strconv.Atoi(m[1])
				rest = rest[len(m[0]):]
			}
			return line, rest, true
		}
	}
	return 0, "", false
}

// goLine is the line a transcript error names, 0 for none.
func goLine(err error) int {
	if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// everyKindTranscript writes, through the journal, a transcript with every
// entry kind, a retry, a torn tail repaired, non-ASCII and HTML-escaped text,
// an RSA transcript key and two witnesses (one declared, P-256; one not, P-384).
func everyKindTranscript(t *testing.T, path string) []byte {
	t.Helper()
	ctx := context.Background()
	key := testenv.SoftKey(t, keyspec.RSA2048)
	signer := audittest.Signer(t, key)
	pemKey, err := transcript.PublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	carol, dave := testenv.SoftKey(t, keyspec.ECDSAP256), testenv.SoftKey(t, keyspec.ECDSAP384)
	now := time.Date(2026, 11, 30, 6, 0, 0, 123456789, time.UTC)
	config := []byte("operator: Olivia\n")
	j, err := transcript.Create(ctx, path, transcript.Entry{Started: now, Operator: "Olivia",
		Inputs: map[string]any{"signer": map[string]any{"keyId": signer.KeyID(), "publicKey": pemKey},
			"witnesses": []any{map[string]any{"name": "Carol", "role": "auditor", "keyId": audittest.KeyID(t, carol)}}},
		Subjects: []transcript.Subject{transcript.NewSubject("config.yaml", "application/yaml", config)}}, signer)
	if err != nil {
		t.Fatal(err)
	}
	step := &transcript.StepRef{ID: "ca", Title: "Create the CA"}
	for _, e := range []transcript.Entry{
		{Kind: transcript.KindStep, Step: &transcript.StepRef{ID: "preflight", Title: "Preflight", Attempt: 1}, Started: now, Finished: now,
			Inputs: map[string]any{"token": "t", "pin": "env:PIN"}, Results: json.RawMessage(`{"summary":"ready"}`)},
		{Kind: transcript.KindIntent, Step: step, Started: now, Inputs: map[string]any{"generate": map[string]any{"label": "ca", "type": "ecdsa-p256"}}},
		{Kind: transcript.KindFailure, Step: &transcript.StepRef{ID: "ca", Title: step.Title, Attempt: 1}, Started: now, Finished: now, Error: "step ca: <token> & “removed”"},
		{Kind: transcript.KindDeviation, Step: step, Started: now, Operator: "Carol", Results: json.RawMessage(`{"text":"the token was re-inserted — twice"}`)},
		{Kind: transcript.KindStep, Step: &transcript.StepRef{ID: "ca", Title: step.Title, Attempt: 2}, Started: now, Finished: now,
			Results: json.RawMessage(`{"summary":"CA made"}`), Subjects: []transcript.Subject{transcript.NewSubject("ca.pem", "application/x-pem-file", []byte("not really a certificate\n"))}},
	} {
		if _, err := j.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"payloadType":"application/vnd.in-toto+json","pay`) // a crash mid-write
	f.Close()
	j, _, err = transcript.Open(ctx, path, signer) // repairs it: a resume entry with tornTail
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(ctx, transcript.Entry{Kind: transcript.KindResume, Started: now, Results: json.RawMessage(`{"finishedSteps":2}`)}); err != nil {
		t.Fatal(err)
	}
	lines, sum, err := j.Sum()
	if err != nil {
		t.Fatal(err)
	}
	seal := fmt.Sprintf(`{"lines":%d,"sha256":%q,"steps":["preflight","ca"]}`, lines, sum)
	if _, err := j.Append(ctx, transcript.Entry{Kind: transcript.KindSeal, Started: now, Results: json.RawMessage(seal)}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data := audittest.Read(t, path)
	for i, k := range []struct {
		name string
		key  crypto.Signer
	}{{"Carol", carol}, {"Dave", dave}} {
		line, err := transcript.SignWitness(ctx, data, audittest.Signer(t, k.key), k.key.Public(),
			transcript.WitnessInfo{Name: k.name, Statement: fmt.Sprintf("witness %d: the script was followed", i+1)}, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transcript.AppendWitness(path, line); err != nil {
			t.Fatal(err)
		}
		data = audittest.Read(t, path)
	}
	if _, err := transcript.Verify(data); err != nil {
		t.Fatalf("the every-kind transcript does not verify: %v", err)
	}
	return data
}

// sealLineOf is the seal's line number.
func sealLineOf(t *testing.T, data []byte) int {
	t.Helper()
	v, err := transcript.Verify(data)
	if err != nil {
		t.Fatal(err)
	}
	return v.Seal.Seq + 1
}

// flipSignature flips one bit in line n's signature and writes the envelope
// back in the tool's own form, so only the signature check can catch it.
func flipSignature(t *testing.T, data []byte, n int) []byte {
	t.Helper()
	lines := audittest.Lines(data)
	var env dsse.Envelope
	if err := json.Unmarshal(bytes.TrimSuffix(lines[n-1], []byte{'\n'}), &env); err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 1
	env.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return withLine(data, n, append(b, '\n'))
}

// resign edits the results of line n's entry and signs the line again with
// signer: a transcript its key holder doctored.
func resign(t *testing.T, data []byte, n int, signer transcript.Signer, edit func(results map[string]any)) []byte {
	t.Helper()
	payload, _, _ := specEnvelope(t, bytes.TrimSuffix(audittest.Lines(data)[n-1], []byte{'\n'}))
	var st audittest.Statement
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&st); err != nil {
		t.Fatal(err)
	}
	edit(st["predicate"].(map[string]any)["results"].(map[string]any))
	return withLine(data, n, audittest.SignLine(t, st, signer))
}

// withLine replaces line n (counting from 1) by line, which ends in '\n'.
func withLine(data []byte, n int, line []byte) []byte {
	lines := audittest.Lines(data)
	lines[n-1] = line
	return bytes.Join(lines, nil)
}

func without(data []byte, n int) []byte {
	lines := audittest.Lines(data)
	return bytes.Join(append(lines[:n-1:n-1], lines[n:]...), nil)
}

func swap(data []byte, a, b int) []byte {
	lines := audittest.Lines(data)
	lines[a-1], lines[b-1] = lines[b-1], lines[a-1]
	return bytes.Join(lines, nil)
}

// respace adds one space to line n's envelope: the same JSON, the same
// signed payload, another spelling.
func respace(data []byte, n int) []byte {
	line := audittest.Lines(data)[n-1]
	return withLine(data, n, bytes.Replace(line, []byte(`","signatures":`), []byte(`", "signatures":`), 1))
}

func specEnvelope(t *testing.T, line []byte) (payload []byte, keyID string, sig []byte) {
	t.Helper()
	var env dsse.Envelope
	if err := json.Unmarshal(line, &env); err != nil || len(env.Signatures) != 1 {
		t.Fatalf("not a one-signature envelope: %v", err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	sig, err = base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	return payload, env.Signatures[0].KeyID, sig
}

var vectorRe = regexp.MustCompile("(?s)<!-- vector ([a-z0-9-]+) -->\n```text\n(.*?)\n```")

// specVectors reads the document's marked values.
func specVectors(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile(specDoc)
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]string{}
	for _, m := range vectorRe.FindAllStringSubmatch(string(doc), -1) {
		v[m[1]] = m[2]
	}
	for _, name := range []string{"seal-line", "seal-line-sha256", "seal-pae-sha256", "transcript-public-key", "transcript-key-id", "witness-line"} {
		if v[name] == "" {
			t.Fatalf("%s has no <!-- vector %s --> block", specDoc, name)
		}
	}
	return v
}

// Package audittest gives the tests of audit and of `ceremony verify` a real
// ceremony to verify (SoftHSM2, notary-server, declared witnesses) and the
// means to doctor its transcript the way an attacker holding some key would.
package audittest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
)

// GUN is the fixture ceremony's repository.
const GUN = "docker.io/audit/nginx"

// Ceremony is a finished ceremony: its output directory, its CA, the token
// its keys are in, and the two declared witnesses' keys. Alice has signed
// the transcript; Bob has not.
type Ceremony struct {
	Out        string // the output directory
	Transcript string // Out/transcript.intoto.jsonl
	CAFile     string
	CA         *x509.Certificate
	Token      testenv.Token
	Alice, Bob crypto.Signer
}

// Run runs a whole ceremony with Notary (repository, init, snapshot,
// delegation) on a scratch token against a real notary-server, declaring
// Alice and Bob as witnesses, and has Alice sign the sealed transcript. The
// package's TestMain must run testenv.RunWithSoftHSM.
func Run(t testing.TB) *Ceremony {
	t.Helper()
	srv := testenv.NotaryServerT(t)
	c := &Ceremony{Token: testenv.NewToken(t), Alice: testenv.SoftKey(t, keyspec.ECDSAP256), Bob: testenv.SoftKey(t, keyspec.ECDSAP384)}
	yaml := fmt.Sprintf("operator: Olivia\nwitnesses:\n  - {name: Alice, role: auditor, key_id: %q}\n  - {name: Bob, role: security officer, key_id: %q}\n",
		KeyID(t, c.Alice), KeyID(t, c.Bob))
	cfg, err := config.Load(testenv.Ceremony{Token: c.Token, GUNs: []string{GUN}, Notary: srv, Delegations: []testenv.Delegation{{}}, Extra: yaml}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test"}); err != nil {
		t.Fatal(err)
	}
	c.Out = cfg.OutputDir()
	c.Transcript = filepath.Join(c.Out, transcript.FileName)
	c.CAFile = filepath.Join(c.Out, steps.CAFile)
	c.CA = ReadCert(t, c.CAFile)
	data := Read(t, c.Transcript)
	Write(t, c.Transcript, append(data, WitnessLine(t, data, c.Alice, "Alice")...))
	return c
}

// Copy copies the output directory to a fresh one, for a test that changes it.
func (c *Ceremony) Copy(t testing.TB) *Ceremony {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	if err := os.CopyFS(out, os.DirFS(c.Out)); err != nil {
		t.Fatal(err)
	}
	cp := *c
	cp.Out, cp.Transcript, cp.CAFile = out, filepath.Join(out, transcript.FileName), filepath.Join(out, steps.CAFile)
	return &cp
}

// TranscriptSigner is the ceremony's own transcript key, in the token: what
// a dishonest operator holding the token could re-sign a doctored record with.
func (c *Ceremony) TranscriptSigner(t testing.TB) transcript.Signer {
	t.Helper()
	key, err := c.Token.Session(t).FindKey(context.Background(), hsm.KeySelector{Label: "transcript"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := transcript.NewSigner(key, key.WithContext)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// WitnessLine is key's witness line, signed as name, over the sealed data.
func WitnessLine(t testing.TB, data []byte, key crypto.Signer, name string) []byte {
	t.Helper()
	line, err := transcript.SignWitness(context.Background(), data, Signer(t, key), key.Public(),
		transcript.WitnessInfo{Name: name, Statement: "I watched every step; the script was followed."}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return line
}

// Signer signs lines with a software key.
func Signer(t testing.TB, key crypto.Signer) transcript.Signer {
	t.Helper()
	s, err := transcript.NewSigner(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// OtherCA is a CA of the attacker's (CN=Other CA) and its key.
func OtherCA(t testing.TB) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testenv.SoftKey(t, keyspec.ECDSAP256)
	subject, err := pki.ParseSubject("CN=Other CA")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.IssueCA(context.Background(), key, pki.Request{Subject: subject, Days: 7300, Now: time.Now().Add(-time.Hour), Rand: bytes.NewReader(bytes.Repeat([]byte{7}, 64))})
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

// Statement is one line's in-toto statement, decoded for editing.
type Statement map[string]any

// Predicate is the statement's predicate (the entry).
func (s Statement) Predicate() map[string]any { return s["predicate"].(map[string]any) }

// Kind is the entry's kind.
func (s Statement) Kind() string { k, _ := s.Predicate()["kind"].(string); return k }

// StepID is the entry's step, "" for none.
func (s Statement) StepID() string {
	step, _ := s.Predicate()["step"].(map[string]any)
	id, _ := step["id"].(string)
	return id
}

// Results is the entry's results object.
func (s Statement) Results() map[string]any {
	r, _ := s.Predicate()["results"].(map[string]any)
	return r
}

// SetSubject replaces the content (and digest) of the artifact called name.
func (s Statement) SetSubject(name string, content []byte) bool {
	subjects, _ := s["subject"].([]any)
	for _, raw := range subjects {
		sub := raw.(map[string]any)
		if sub["name"] == name {
			sub["content"] = base64.StdEncoding.EncodeToString(content)
			sub["digest"] = map[string]any{"sha256": SHA256Hex(content)}
			return true
		}
	}
	return false
}

// Subject is the content of the artifact called name, nil when there is none.
func (s Statement) Subject(name string) []byte {
	subjects, _ := s["subject"].([]any)
	for _, raw := range subjects {
		sub := raw.(map[string]any)
		if sub["name"] == name {
			b, _ := base64.StdEncoding.DecodeString(sub["content"].(string))
			return b
		}
	}
	return nil
}

// Resign rewrites data's lines through the seal: edit changes each
// statement (seq counts from 0), then every line is chained to the new one
// before it, the seal's figures are recomputed and each line is signed by
// signer. Witness lines are dropped: they signed the old seal.
func Resign(t testing.TB, data []byte, signer transcript.Signer, edit func(seq int, st Statement)) []byte {
	t.Helper()
	var out, prev []byte
	for seq, raw := range bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
		st := decode(t, raw)
		if st["predicateType"] != transcript.PredicateType {
			break
		}
		edit(seq, st)
		if seq > 0 {
			st.Predicate()["prev"] = "sha256:" + SHA256Hex(prev)
			st["subject"].([]any)[0].(map[string]any)["digest"] = map[string]any{"sha256": SHA256Hex(prev)}
		}
		if st.Kind() == transcript.KindSeal {
			st.Results()["lines"], st.Results()["sha256"] = seq, SHA256Hex(out)
		}
		line := SignLine(t, st, signer)
		out, prev = append(out, line...), line[:len(line)-1]
	}
	return out
}

// SignerFromOtherCA replaces the transcript key by an attacker's, certified
// by another CA (transcript.pem and its facts), and re-signs every line with
// it: the transcript is consistent in itself, and only the chain to the
// auditor's CA tells.
func SignerFromOtherCA(t testing.TB, data []byte) []byte {
	t.Helper()
	k := testenv.SoftKey(t, keyspec.ECDSAP256)
	ca, caKey := OtherCA(t)
	der, err := pki.NewCSR(k, pki.TranscriptCommonName)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.ParseCSR(der)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pki.IssueTranscript(context.Background(), ca, caKey, csr, pki.Request{Now: time.Now().Add(-time.Minute), Rand: bytes.NewReader(bytes.Repeat([]byte{9}, 64))})
	if err != nil {
		t.Fatal(err)
	}
	signAs := SignAs(t, k)
	return Resign(t, data, Signer(t, k), func(seq int, st Statement) {
		signAs(seq, st)
		if st.StepID() == string(steps.TranscriptKeyID) && st.Kind() == transcript.KindStep {
			st.SetSubject(steps.TranscriptCertFile, pki.CertPEM(cert))
			st.Results()["certificate"].(map[string]any)["sha256"] = SHA256Hex(cert.Raw)
			st.Results()["key"].(map[string]any)["spkiSha256"] = SHA256Hex(cert.RawSubjectPublicKeyInfo)
		}
	})
}

// SignAs makes the header name signer's key as the transcript key: an edit
// for Resign with a key other than the ceremony's.
func SignAs(t testing.TB, key crypto.Signer) func(seq int, st Statement) {
	pemKey, err := transcript.PublicKeyPEM(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	id := KeyID(t, key)
	return func(seq int, st Statement) {
		if seq == 0 {
			signer := st.Predicate()["inputs"].(map[string]any)["signer"].(map[string]any)
			signer["keyId"], signer["publicKey"] = id, pemKey
		}
	}
}

func decode(t testing.TB, raw []byte) Statement {
	t.Helper()
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var st Statement
	if err := d.Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// SignLine encodes st as a transcript line signed by signer, as the
// journal writes one: a line its key holder doctored.
func SignLine(t testing.TB, st Statement, signer transcript.Signer) []byte {
	t.Helper()
	payload, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(context.Background(), dsse.PAE(transcript.PayloadType, payload))
	if err != nil {
		t.Fatal(err)
	}
	line, err := json.Marshal(dsse.Envelope{PayloadType: transcript.PayloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{KeyID: signer.KeyID(), Sig: base64.StdEncoding.EncodeToString(sig)}}})
	if err != nil {
		t.Fatal(err)
	}
	return append(line, '\n')
}

// KeyID is the key's ID as the transcript writes it.
func KeyID(t testing.TB, key crypto.Signer) string {
	t.Helper()
	id, err := keyspec.KeyID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// ReadCert reads one PEM certificate.
func ReadCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	c, err := pki.ParseCertPEM(Read(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Read reads a file or fails the test.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Write replaces a file's content or fails the test.
func Write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteTemp writes b to a fresh file and returns its path.
func WriteTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	Write(t, p, b)
	return p
}

// Lines splits a transcript into its lines, each with its '\n'.
func Lines(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return append(out, data)
		}
		out = append(out, data[:i+1])
		data = data[i+1:]
	}
	return out
}

// SHA256Hex is the hex SHA-256 of b.
func SHA256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// RunUntil runs cfg's plan and stops it at the hook point, as a crash there
// would: nothing after the point happens, and the deferred clean-up runs.
func RunUntil(t testing.TB, cfg *config.Config, point string) {
	t.Helper()
	type stop struct{}
	defer func() {
		if r := recover(); r != nil && r != (stop{}) {
			panic(r)
		}
	}()
	steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Hook: func(p string) {
		if p == point {
			panic(stop{})
		}
	}})
	t.Fatalf("the run did not reach %s", point)
}

// JournalConsistent: the journal an interrupted run left at path, if it got
// that far, reads back and every complete line verifies, as far as it goes.
func JournalConsistent(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transcript.ReadPrefix(path); err != nil {
		t.Fatalf("the journal the interrupted run left does not read back: %v", err)
	}
	if _, _, err := transcript.VerifyUnfinished(data); err != nil {
		t.Fatalf("the journal the interrupted run left does not verify as far as it goes: %v", err)
	}
}

// OneKeyPerLabel: the token holds exactly one private key, public key and
// certificate under each of labels, and nothing else.
func OneKeyPerLabel(t testing.TB, tok testenv.Token, labels ...string) {
	t.Helper()
	objs, err := tok.Session(t).Objects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, o := range objs {
		count[o.Label+" "+o.Class]++
	}
	want := map[string]int{}
	for _, label := range labels {
		for _, class := range []string{"private-key", "public-key", "certificate"} {
			want[label+" "+class] = 1
		}
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Fatalf("the token holds %v, want %v", count, want)
	}
}

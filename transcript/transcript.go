// Package transcript is the ceremony's append-only journal, which is also its
// transcript: transcript.intoto.jsonl in the output directory.
//
// Every line is a DSSE envelope (payloadType application/vnd.in-toto+json)
// whose payload is an in-toto Statement v1 with predicateType PredicateType
// and an Entry as predicate. Lines are chained: an entry's Prev is the SHA-256
// of the previous line's raw bytes as stored (without '\n'), never of a
// re-marshalled form, because JSON has no canonical encoding and a verifier
// must be able to recompute the chain from the file alone.
//
// in-toto v1 requires at least one subject with a digest, so every line after
// the header carries the previous line as its first subject (named
// PrevSubjectName); the chain is then visible to any in-toto tool, not only
// to readers of our predicate. Decoding strips that subject again, so
// Entry.Subjects holds only the artifacts a caller recorded. The header has
// nothing before it and must name at least one subject itself (the binary,
// the configuration).
//
// Every line through the seal is signed by the transcript key the header
// names. After the seal come only witness lines (WitnessPredicateType): each
// signs the seal line's digest with the witness's own key, so witnesses sign
// in any order, or on copies merged later (Merge). Verify checks it all.
package transcript

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Names fixed by the file format.
const (
	FileName        = "transcript.intoto.jsonl"
	PayloadType     = "application/vnd.in-toto+json"
	StatementType   = "https://in-toto.io/Statement/v1"
	PredicateType   = "https://ceremony.dev/transcript/entry/v1"
	PrevSubjectName = "transcript:prev"

	WitnessPredicateType = "https://ceremony.dev/transcript/witness/v1"
	SealSubjectName      = "transcript:seal" // a witness line's one subject: the seal line
)

// Entry kinds.
const (
	KindHeader    = "header"    // seq 0: tool, plan, token, signer, declared people
	KindStep      = "step"      // a step finished; Step.Attempt > 1 marks a retry
	KindFailure   = "failure"   // a step failed: Error says why, Results what was left
	KindResume    = "resume"    // the ceremony continued from this journal after a stop
	KindDeviation = "deviation" // the operator's own words about leaving the script
	KindIntent    = "intent"    // about to make something irreversible (a key): a crash before the step's entry leaves this trace, so a resumed run adopts the key instead of making a second one
	KindSeal      = "seal"      // the last entry; nothing follows it
)

// Error is a constant error, so callers can match with errors.Is without
// the package holding variables.
type Error string

func (e Error) Error() string { return string(e) }

const (
	// ErrInUse: another process (or another Open in this one) holds the journal's lock.
	ErrInUse Error = "in use by another ceremony process"
	// ErrTornTail: the last line is incomplete, as a crash mid-write leaves
	// it. Read reports it; Open repairs it.
	ErrTornTail Error = "torn last line (incomplete write)"
	// ErrNotSealed: every line holds but no seal ends them; the ceremony
	// did not finish. VerifyUnfinished reads such a transcript.
	ErrNotSealed Error = "not sealed"
)

// Signer signs a line's DSSE pre-authentication encoding (dsse.PAE). The
// transcript key lives in the token, so this is deliberately narrower than
// crypto.Signer: the implementation chooses hash and encoding.
type Signer interface {
	KeyID() string
	Sign(ctx context.Context, pae []byte) ([]byte, error)
}

// Subject is an in-toto ResourceDescriptor: an artifact an entry produced.
// Content inlines the artifact so the transcript is self-contained.
type Subject struct {
	Name      string            `json:"name"`
	Digest    map[string]string `json:"digest"`
	MediaType string            `json:"mediaType,omitempty"`
	Content   []byte            `json:"content,omitempty"`
}

// NewSubject describes content inlined under name, with its sha256.
func NewSubject(name, mediaType string, content []byte) Subject {
	return Subject{Name: name, Digest: map[string]string{"sha256": sha256Hex(content)}, MediaType: mediaType, Content: content}
}

// StepRef names the step an entry is about.
type StepRef struct {
	ID      string `json:"id"`
	Title   string `json:"title,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
}

// Entry is one line's predicate. Callers fill Kind, Step, the times,
// Operator, Inputs, Results, Error and Subjects; the journal fills Seq and
// Prev. Inputs must be non-secret (see Append).
type Entry struct {
	Seq      int             `json:"seq"`
	Kind     string          `json:"kind"`
	Prev     string          `json:"prev"`
	Step     *StepRef        `json:"step,omitempty"`
	Started  time.Time       `json:"started,omitzero"`
	Finished time.Time       `json:"finished,omitzero"`
	Operator string          `json:"operator,omitempty"`
	Inputs   map[string]any  `json:"inputs,omitempty"`
	Results  json.RawMessage `json:"results,omitempty"`
	Error    string          `json:"error,omitempty"`
	Subjects []Subject       `json:"-"` // carried as the statement's subject list
}

type statement[P any] struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     P         `json:"predicate"`
}

// encodeLine renders e (Seq and Prev already set) as one '\n'-terminated line.
func encodeLine(ctx context.Context, e *Entry, signer Signer) ([]byte, error) {
	subjects := e.Subjects
	if e.Seq > 0 {
		prev := Subject{Name: PrevSubjectName, Digest: map[string]string{"sha256": strings.TrimPrefix(e.Prev, "sha256:")}}
		subjects = append([]Subject{prev}, e.Subjects...)
	}
	payload, err := json.Marshal(statement[*Entry]{StatementType, subjects, PredicateType, e})
	if err != nil {
		return nil, err
	}
	return encodeEnvelope(ctx, payload, signer)
}

// encodeEnvelope wraps payload in a DSSE envelope signed by signer (none
// when nil) as one '\n'-terminated line.
func encodeEnvelope(ctx context.Context, payload []byte, signer Signer) ([]byte, error) {
	env := dsse.Envelope{
		PayloadType: PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{}, // "[]", not null: an unsigned line is still a DSSE envelope
	}
	if signer != nil {
		sig, err := signer.Sign(ctx, dsse.PAE(PayloadType, payload))
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		env.Signatures = append(env.Signatures, dsse.Signature{KeyID: signer.KeyID(), Sig: base64.StdEncoding.EncodeToString(sig)})
	}
	line, err := json.Marshal(env)
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}

// signed is what a line's signatures cover (the payload, through dsse.PAE)
// and the signatures themselves.
type signed struct {
	payload []byte
	sigs    []dsse.Signature
}

// decodeEnvelope parses raw as the envelope encodeEnvelope writes and
// returns its payload. The line must be byte for byte what json.Marshal makes
// of the decoded envelope, base64 included: a signature covers the payload
// only, and the seal and witness lines have no later line whose prev would
// catch a re-encoded envelope, so without this, bytes could change and
// everything still verify.
func decodeEnvelope(raw []byte) (signed, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return signed{}, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	if env.PayloadType != PayloadType {
		return signed{}, fmt.Errorf("payloadType %q, want %q", env.PayloadType, PayloadType)
	}
	payload, err := strictBase64(env.Payload)
	if err != nil {
		return signed{}, fmt.Errorf("payload: %w", err)
	}
	if canon, err := json.Marshal(env); err != nil || !bytes.Equal(canon, raw) {
		return signed{}, fmt.Errorf("envelope is not in the form this tool writes (spacing, field order, escaping or an extra field changed)")
	}
	return signed{payload: payload, sigs: env.Signatures}, nil
}

// strictBase64 decodes standard base64 and refuses any other spelling of the
// same bytes (URL alphabet, stray bits in the last character, no padding).
func strictBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, fmt.Errorf("not standard base64")
	}
	return b, nil
}

// decodeLine parses raw (one line without '\n') expected at position seq
// after a line whose digest is prev, and checks everything a line alone can
// show but its signature, which only Verify, knowing the header's key,
// checks. Append runs it on every line before writing, so the journal never
// writes what Read would reject.
func decodeLine(raw []byte, seq int, prev string) (Entry, error) {
	e, _, err := decodeEntry(raw, seq, prev)
	return e, err
}

// decodeEntry is decodeLine that also returns what the line's signature
// covers, for Verify.
func decodeEntry(raw []byte, seq int, prev string) (Entry, signed, error) {
	s, err := decodeEnvelope(raw)
	if err != nil {
		return Entry{}, s, err
	}
	e, err := decodePredicate(s.payload, seq, prev)
	return e, s, err
}

func decodePredicate(payload []byte, seq int, prev string) (Entry, error) {
	var st statement[Entry]
	if err := json.Unmarshal(payload, &st); err != nil {
		return Entry{}, fmt.Errorf("payload is not an in-toto statement: %w", err)
	}
	if st.Type != StatementType || st.PredicateType != PredicateType {
		return Entry{}, fmt.Errorf("statement %q with predicate %q, want %q with %q", st.Type, st.PredicateType, StatementType, PredicateType)
	}
	e := st.Predicate
	switch {
	case e.Prev != prev && seq == 0:
		return Entry{}, fmt.Errorf("prev %q on the first line, want none", e.Prev)
	case e.Prev != prev:
		return Entry{}, fmt.Errorf("prev does not match line %d", seq) // line numbers count from 1
	case e.Seq != seq:
		return Entry{}, fmt.Errorf("seq %d, want %d", e.Seq, seq)
	case seq == 0 && e.Kind != KindHeader:
		return Entry{}, fmt.Errorf("kind %q on the first line, want %q", e.Kind, KindHeader)
	case seq > 0 && !appendable(e.Kind):
		return Entry{}, fmt.Errorf("kind %q not allowed after the header", e.Kind)
	}
	subjects := st.Subject
	if seq > 0 {
		if len(subjects) == 0 || subjects[0].Name != PrevSubjectName || len(subjects[0].Digest) != 1 ||
			"sha256:"+subjects[0].Digest["sha256"] != prev {
			return Entry{}, fmt.Errorf("first subject must be %q with the previous line's sha256", PrevSubjectName)
		}
		subjects = subjects[1:]
	} else if len(subjects) == 0 {
		return Entry{}, fmt.Errorf("header has no subject (in-toto v1 requires one)")
	}
	for i, s := range subjects {
		if err := checkSubject(s); err != nil {
			return Entry{}, fmt.Errorf("subject %d %q: %w", i+1, s.Name, err)
		}
	}
	if len(subjects) > 0 {
		e.Subjects = subjects
	}
	return e, nil
}

func appendable(kind string) bool {
	switch kind {
	case KindStep, KindFailure, KindResume, KindDeviation, KindIntent, KindSeal:
		return true
	}
	return false
}

// checkSubject requires a name and a sha256 and, for inlined content, that
// the two agree: a transcript whose artifacts contradict their digests is
// tampered with or buggy, and either way must not pass.
func checkSubject(s Subject) error {
	d := s.Digest["sha256"]
	switch {
	case s.Name == "" || s.Name == PrevSubjectName:
		return fmt.Errorf("name empty or reserved")
	case len(d) != 2*sha256.Size || strings.ToLower(d) != d:
		return fmt.Errorf("digest needs sha256 as %d lowercase hex digits", 2*sha256.Size)
	case s.Content != nil && sha256Hex(s.Content) != d:
		return fmt.Errorf("sha256 does not match its content")
	}
	if _, err := hex.DecodeString(d); err != nil {
		return fmt.Errorf("sha256 is not hex")
	}
	return nil
}

// split cuts data into complete lines (without '\n') and a torn tail: the
// bytes after the last '\n'. Append writes a line and its '\n' in one
// write, so only a tail can be the remains of an interrupted write; a
// complete line that does not parse was changed after it was written, and
// check reports it (treating it as torn would let a damaged seal be cut off
// and a finished ceremony run again).
func split(data []byte) (lines [][]byte, tail []byte) {
	i := bytes.LastIndexByte(data, '\n')
	body, tail := data[:i+1], data[i+1:]
	if len(body) == 0 {
		return nil, tail
	}
	return bytes.Split(body[:len(body)-1], []byte{'\n'}), tail
}

// check decodes lines in order, verifying seq and the prev chain, and
// returns the entries through the seal. After the seal only witness lines
// of this seal may follow, each signed by its witness; whether those are the
// declared witnesses is for the reader to judge. Errors name the first bad
// line, counting from 1.
func check(lines [][]byte) ([]Entry, error) {
	entries := make([]Entry, 0, len(lines))
	prev := ""
	for i, raw := range lines {
		var err error
		if n := len(entries); n > 0 && entries[n-1].Kind == KindSeal {
			_, err = decodeWitness(raw, strings.TrimPrefix(prev, "sha256:"))
		} else {
			var e Entry
			e, err = decodeLine(raw, i, prev)
			entries = append(entries, e)
			prev = lineDigest(raw)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	return entries, nil
}

func lineDigest(raw []byte) string { return "sha256:" + sha256Hex(raw) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

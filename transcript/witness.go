package transcript

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

// WitnessInfo is what a witness says of themselves when signing.
type WitnessInfo struct {
	Name      string // default: the name the header declares for the key
	Role      string // default: the role the header declares for the key
	Statement string // their own words: what they saw, any exception
}

// Witness is a verified witness line.
type Witness struct {
	Name      string
	Role      string
	KeyID     string
	PublicKey crypto.PublicKey
	Time      time.Time
	Statement string
	Line      int // counting from 1
}

// witnessPredicate is a witness line's predicate. The key travels with the
// line so a verifier needs nothing else to check it; whether the key is a
// declared witness's is the header's to say.
type witnessPredicate struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Time      time.Time `json:"time"`
	Statement string    `json:"statement"`
	KeyID     string    `json:"keyId"`
	PublicKey string    `json:"publicKey"`
}

// decodeWitness checks raw as a witness line over the seal whose line has
// SHA-256 seal (hex), signed by the key it names.
func decodeWitness(raw []byte, seal string) (Witness, error) {
	s, err := decodeEnvelope(raw)
	if err != nil {
		return Witness{}, err
	}
	var st statement[json.RawMessage]
	if err := json.Unmarshal(s.payload, &st); err != nil {
		return Witness{}, fmt.Errorf("payload is not an in-toto statement: %w", err)
	}
	switch {
	case st.Type == StatementType && st.PredicateType == PredicateType:
		return Witness{}, fmt.Errorf("entry after the seal: only witness lines may follow it")
	case st.Type != StatementType || st.PredicateType != WitnessPredicateType:
		return Witness{}, fmt.Errorf("statement %q with predicate %q, want a witness statement (%q)", st.Type, st.PredicateType, WitnessPredicateType)
	case len(st.Subject) != 1 || st.Subject[0].Name != SealSubjectName || len(st.Subject[0].Digest) != 1:
		return Witness{}, fmt.Errorf("a witness line's one subject must be %q with the seal line's sha256", SealSubjectName)
	case st.Subject[0].Digest["sha256"] != seal:
		return Witness{}, fmt.Errorf("witness line of another transcript: it signs the seal sha256:%q, this transcript's seal is sha256:%s", st.Subject[0].Digest["sha256"], seal)
	}
	var p witnessPredicate
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return Witness{}, fmt.Errorf("witness predicate: %w", err)
	}
	pub, err := parsePublicKey(p.PublicKey)
	switch {
	case err != nil:
		return Witness{}, fmt.Errorf("witness publicKey: %w", err)
	case p.Name == "":
		return Witness{}, fmt.Errorf("witness has no name")
	case p.Time.IsZero() || p.Time.Location() != time.UTC:
		return Witness{}, fmt.Errorf("witness %q: time must be RFC 3339 in UTC", p.Name)
	}
	if id, _ := keyspec.KeyID(pub); id != p.KeyID {
		return Witness{}, fmt.Errorf("witness %q: keyId %q is not the key ID of its publicKey (%s)", p.Name, p.KeyID, id)
	}
	if err := verifySigned(s, p.KeyID, pub); err != nil {
		return Witness{}, fmt.Errorf("witness %q: %w", p.Name, err)
	}
	return Witness{Name: p.Name, Role: p.Role, KeyID: p.KeyID, PublicKey: pub, Time: p.Time, Statement: p.Statement}, nil
}

// SignWitness makes the witness line by which the holder of signer (whose
// public key is pub) attests the sealed transcript data, at now. A witness
// signs only what verifies, once per key. An empty Name or Role is taken
// from the header's declaration of the key; an undeclared witness must give
// a name.
func SignWitness(ctx context.Context, data []byte, signer Signer, pub crypto.PublicKey, info WitnessInfo, now time.Time) ([]byte, error) {
	v, err := Verify(data)
	if err != nil {
		return nil, fmt.Errorf("refusing to witness a transcript that does not verify: %w", err)
	}
	id, err := keyspec.KeyID(pub)
	if err != nil {
		return nil, err
	}
	if id != signer.KeyID() {
		return nil, fmt.Errorf("witness signer %s does not hold the public key %s", signer.KeyID(), id)
	}
	if err := v.mayWitness(id); err != nil {
		return nil, err
	}
	if info, err = v.fill(id, info); err != nil {
		return nil, err
	}
	pemKey, err := PublicKeyPEM(pub)
	if err != nil {
		return nil, err
	}
	st := statement[witnessPredicate]{StatementType,
		[]Subject{{Name: SealSubjectName, Digest: map[string]string{"sha256": v.SealSHA256}}},
		WitnessPredicateType,
		witnessPredicate{info.Name, info.Role, now.UTC().Truncate(time.Second), info.Statement, id, pemKey}}
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	line, err := encodeEnvelope(ctx, payload, signer)
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	if _, err := decodeWitness(line[:len(line)-1], v.SealSHA256); err != nil {
		return nil, fmt.Errorf("refusing the witness line made: %w", err)
	}
	return line, nil
}

// mayWitness refuses the transcript key and a key that already signed.
func (v *Verified) mayWitness(keyID string) error {
	if keyID == v.SignerKeyID {
		return fmt.Errorf("key %s is the transcript key: a witness signs with a key of their own", keyID)
	}
	if w, ok := v.witnessByKey(keyID); ok {
		return fmt.Errorf("key %s already witnessed this transcript (line %d, as %q)", keyID, w.Line, w.Name)
	}
	return nil
}

// fill takes an empty name or role from the header's declaration of keyID.
func (v *Verified) fill(keyID string, info WitnessInfo) (WitnessInfo, error) {
	for _, d := range v.Declared {
		if d.KeyID == keyID {
			info.Name = cmp.Or(info.Name, d.Name)
			info.Role = cmp.Or(info.Role, d.Role)
		}
	}
	if info.Name == "" {
		return info, fmt.Errorf("the header declares no witness with key %s: give a name", keyID)
	}
	return info, nil
}

// AppendWitness adds a witness line (from SignWitness) to the transcript at
// path, under the file's lock, in one write, fsynced. The file must still
// verify, and the line must be over its seal from a key that has not signed
// it yet.
func AppendWitness(path string, line []byte) (Witness, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return Witness{}, fmt.Errorf("transcript: %w", err)
	}
	defer f.Close()
	w, err := appendWitness(f, line)
	if err != nil {
		return Witness{}, fmt.Errorf("transcript %s: %w", path, err)
	}
	return w, nil
}

func appendWitness(f *os.File, line []byte) (Witness, error) {
	if err := lock(f); err != nil {
		return Witness{}, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return Witness{}, err
	}
	v, err := Verify(data)
	if err != nil {
		return Witness{}, err
	}
	if len(line) == 0 || bytes.IndexByte(line, '\n') != len(line)-1 {
		return Witness{}, fmt.Errorf("a witness line is one line ending in a newline")
	}
	w, err := decodeWitness(line[:len(line)-1], v.SealSHA256)
	if err != nil {
		return Witness{}, fmt.Errorf("witness line: %w", err)
	}
	if err := v.mayWitness(w.KeyID); err != nil {
		return Witness{}, err
	}
	if _, err = f.Write(line); err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Truncate(int64(len(data))) // best effort; a torn tail is reported by Verify
		return Witness{}, fmt.Errorf("append witness line: %w", err)
	}
	w.Line = bytes.Count(data, []byte{'\n'}) + 1
	return w, nil
}

// Merge combines two copies of one sealed transcript that witnesses signed
// separately: their common lines through the seal, then every distinct
// witness line of a, then those of b that a lacks. Both must verify and be
// byte-identical through the seal.
func Merge(a, b []byte) ([]byte, error) {
	va, err := Verify(a)
	if err != nil {
		return nil, fmt.Errorf("first transcript: %w", err)
	}
	vb, err := Verify(b)
	if err != nil {
		return nil, fmt.Errorf("second transcript: %w", err)
	}
	if !bytes.Equal(a[:va.sealEnd], b[:vb.sealEnd]) {
		return nil, fmt.Errorf("not copies of one transcript: %s", firstDifference(a[:va.sealEnd], b[:vb.sealEnd]))
	}
	out := bytes.Clone(a[:va.sealEnd])
	seen := map[string]bool{}
	for _, raw := range slices.Concat(va.witnessLines, vb.witnessLines) {
		if !seen[string(raw)] {
			seen[string(raw)] = true
			out = append(append(out, raw...), '\n')
		}
	}
	return out, nil
}

// firstDifference names the first line where two verified prefixes differ.
func firstDifference(a, b []byte) string {
	la, _ := split(a)
	lb, _ := split(b)
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return fmt.Sprintf("line %d differs (sha256:%s and sha256:%s)", i+1, sha256Hex(la[i]), sha256Hex(lb[i]))
		}
	}
	return fmt.Sprintf("one is sealed at line %d, the other at line %d", len(la), len(lb))
}

package transcript

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"sync"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Verified is what a transcript shows on its own once Verify has checked it.
// What needs more than the file (the CA chain of the transcript key and of
// every certificate, notary's root.json, artifacts on disk, which witnesses
// count) is for the reader: the header's inputs are Entries[0].Inputs and
// each entry's artifacts its Subjects.
type Verified struct {
	Entries     []Entry          // header to seal, in order
	SignerKey   crypto.PublicKey // the transcript key, from the header
	SignerKeyID string
	Seal        Entry
	SealSHA256  string            // hex SHA-256 of the seal line: what witnesses sign
	Declared    []DeclaredWitness // the header's inputs.witnesses
	// Witnesses holds one per key, from its first line: a witness who signs
	// twice counts once. Undeclared keys are here too; matching them
	// against Declared is the reader's call.
	Witnesses []Witness

	sealEnd      int      // bytes through the seal line's '\n'
	end          int      // bytes through the last complete line's '\n'
	lines, tail  int      // complete lines; bytes of a torn last line
	witnessLines [][]byte // every witness line, repeats included (Merge)
}

// DeclaredWitness is one of the header's inputs.witnesses.
type DeclaredWitness struct {
	Name  string `json:"name"`
	Role  string `json:"role,omitempty"`
	KeyID string `json:"keyId"`
}

// headerSigner is the part of the header's inputs.signer a verifier needs;
// the rest (label, CKA_ID, type, attributes) is the token's testimony, for
// the reader.
type headerSigner struct {
	KeyID     string `json:"keyId"`
	PublicKey string `json:"publicKey"`
}

var keyIDPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Verify checks everything a transcript alone can show: every line through
// the seal is a chained entry signed by the transcript key the header names,
// exactly one seal ends them with the right count and digest of the bytes
// before it, and every line after it is a witness line over this seal,
// signed by the key it names. The error names the first failing line.
func Verify(data []byte) (*Verified, error) {
	v, err := verifyLines(data)
	if err != nil {
		return nil, err
	}
	if v.sealEnd == 0 {
		return nil, v.unfinished()
	}
	if v.tail > 0 {
		return nil, fmt.Errorf("line %d: %w (%d bytes) after the seal, as an interrupted witness signature leaves: keep the first %d bytes (truncate -s %d)",
			v.lines+1, ErrTornTail, v.tail, v.end, v.end)
	}
	return v, nil
}

// VerifyUnfinished reads the transcript of a ceremony that stopped before
// its seal, for an auditor looking into why: every complete line must hold
// as in Verify (signed by the header's key, chained); a torn last line, as
// a crash leaves, is left out. It returns the same as Verify for a sealed
// transcript. Unfinished says why there is no seal; a transcript read so
// never verifies.
func VerifyUnfinished(data []byte) (v *Verified, unfinished error, err error) {
	v, err = verifyLines(data)
	switch {
	case err != nil:
		return nil, nil, err
	case v.sealEnd == 0 && len(v.Entries) == 0:
		return nil, nil, v.unfinished()
	case v.sealEnd == 0:
		return v, v.unfinished(), nil
	}
	v, err = Verify(data)
	return v, nil, err
}

// verifyLines checks every complete line: entries through the seal, witness
// lines after it.
func verifyLines(data []byte) (*Verified, error) {
	lines, tail := split(data)
	if len(lines) == 0 && len(tail) == 0 {
		return nil, fmt.Errorf("empty: no header")
	}
	v := &Verified{lines: len(lines), tail: len(tail)}
	checked := v.checkLines(lines)
	for i, raw := range lines {
		var err error
		if v.sealEnd == 0 {
			err = v.add(checked[i], lines, i)
		} else {
			err = v.witness(raw, i)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		v.end += len(raw) + 1
		if v.sealEnd == 0 && v.Seal.Kind == KindSeal {
			v.sealEnd = v.end
		}
	}
	return v, nil
}

// unfinished says why a transcript without a seal ends where it does.
func (v *Verified) unfinished() error {
	if v.tail > 0 {
		return fmt.Errorf("line %d: %w (%d bytes): the ceremony did not finish: %w", v.lines+1, ErrTornTail, v.tail, ErrNotSealed)
	}
	return fmt.Errorf("%w: the ceremony did not finish (%d lines, the last a %q entry)", ErrNotSealed, v.lines, v.Entries[len(v.Entries)-1].Kind)
}

// checkedLine is a line decoded as an entry, its signature checked.
type checkedLine struct {
	e   Entry
	err error
}

// errUnchecked marks a line checkLines skipped because an earlier line in
// its part failed; Verify stops at that earlier line or, past the seal,
// reads the line as a witness line, so it never surfaces.
var errUnchecked = errors.New("not checked")

// checkLines decodes every line as an entry with its signature checked by
// the header's key. Once the header is read the lines are independent (a
// line's prev is the digest of the raw line above it), so they are checked
// in contiguous parts on every CPU: signatures are most of the work. Lines
// past the seal fail here and are read again as witness lines.
func (v *Verified) checkLines(lines [][]byte) []checkedLine {
	out := make([]checkedLine, len(lines))
	for i := range out {
		out[i].err = errUnchecked
	}
	if len(lines) == 0 {
		return out
	}
	if out[0] = v.checkHeader(lines[0]); out[0].err != nil || len(lines) == 1 {
		return out
	}
	rest := len(lines) - 1
	n := min(runtime.GOMAXPROCS(0), (rest+63)/64) // at least 64 lines a goroutine
	size := (rest + n - 1) / n
	var wg sync.WaitGroup
	for from := 1; from < len(lines); from += size {
		wg.Go(func() {
			for i := from; i < min(from+size, len(lines)); i++ {
				if out[i] = v.checkLine(lines, i); out[i].err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return out
}

// checkHeader reads line 1 and the transcript key it names, then checks
// the line's signature with that key.
func (v *Verified) checkHeader(raw []byte) checkedLine {
	e, s, err := decodeEntry(raw, 0, "")
	if err != nil {
		return checkedLine{err: err}
	}
	if err := v.header(e); err != nil {
		return checkedLine{err: fmt.Errorf("header: %w", err)}
	}
	return checkedLine{e, verifySigned(s, v.SignerKeyID, v.SignerKey)}
}

func (v *Verified) checkLine(lines [][]byte, i int) checkedLine {
	e, s, err := decodeEntry(lines[i], i, lineDigest(lines[i-1]))
	if err == nil {
		err = verifySigned(s, v.SignerKeyID, v.SignerKey)
	}
	return checkedLine{e, err}
}

// add takes line i (before the seal) as checked, checking a seal's figures.
func (v *Verified) add(c checkedLine, lines [][]byte, i int) error {
	if c.err != nil {
		return c.err
	}
	if c.e.Kind == KindSeal {
		if err := checkSeal(c.e, i, linesSHA256(lines[:i])); err != nil {
			return err
		}
		v.Seal, v.SealSHA256 = c.e, sha256Hex(lines[i])
	}
	v.Entries = append(v.Entries, c.e)
	return nil
}

// header reads the transcript key and the declared witnesses.
func (v *Verified) header(e Entry) error {
	var in struct {
		Signer    *headerSigner     `json:"signer"`
		Witnesses []DeclaredWitness `json:"witnesses"`
	}
	if err := remarshal(e.Inputs, &in); err != nil {
		return fmt.Errorf("inputs: %w", err)
	}
	if in.Signer == nil {
		return fmt.Errorf("inputs.signer is missing: nothing names the transcript key")
	}
	pub, err := parsePublicKey(in.Signer.PublicKey)
	if err != nil {
		return fmt.Errorf("inputs.signer.publicKey: %w", err)
	}
	if id, _ := keyspec.KeyID(pub); id != in.Signer.KeyID {
		return fmt.Errorf("inputs.signer.keyId %q is not the key ID of its publicKey (%s)", in.Signer.KeyID, id)
	}
	for i, w := range in.Witnesses {
		if w.Name == "" || !keyIDPattern.MatchString(w.KeyID) {
			return fmt.Errorf("inputs.witnesses[%d]: needs a name and a keyId (sha256: and 64 lowercase hex digits)", i)
		}
	}
	v.SignerKey, v.SignerKeyID, v.Declared = pub, in.Signer.KeyID, in.Witnesses
	return nil
}

// witness checks line i, after the seal.
func (v *Verified) witness(raw []byte, i int) error {
	w, err := decodeWitness(raw, v.SealSHA256)
	if err != nil {
		return err
	}
	if w.KeyID == v.SignerKeyID {
		return fmt.Errorf("witness %q signs with the transcript key: a witness needs a key of their own", w.Name)
	}
	v.witnessLines = append(v.witnessLines, raw)
	if _, ok := v.witnessByKey(w.KeyID); !ok {
		w.Line = i + 1
		v.Witnesses = append(v.Witnesses, w)
	}
	return nil
}

// witnessByKey is the first witness line signed by keyID.
func (v *Verified) witnessByKey(keyID string) (Witness, bool) {
	for _, w := range v.Witnesses {
		if w.KeyID == keyID {
			return w, true
		}
	}
	return Witness{}, false
}

// verifySigned requires exactly one signature, by keyID, that verifies over
// the PAE with pub. It checks the signature itself rather than through
// dsse.EnvelopeVerifier, which skips a bad signature when another one is good
// and prints to stdout.
func verifySigned(s signed, keyID string, pub crypto.PublicKey) error {
	if len(s.sigs) != 1 {
		return fmt.Errorf("%d signatures, want exactly one", len(s.sigs))
	}
	if s.sigs[0].KeyID != keyID {
		return fmt.Errorf("signature keyid %q, want %s", s.sigs[0].KeyID, keyID)
	}
	sig, err := strictBase64(s.sigs[0].Sig)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if err := VerifySignature(pub, dsse.PAE(PayloadType, s.payload), sig); err != nil {
		return fmt.Errorf("signature does not verify with key %s: %w", keyID, err)
	}
	return nil
}

// sealFigures are what the seal records of the lines before it.
type sealFigures struct {
	Lines  *int    `json:"lines"`
	SHA256 *string `json:"sha256"`
}

// checkSeal requires the seal's results to count the lines before it and
// give their SHA-256 (hex), so the seal alone pins the whole transcript.
func checkSeal(e Entry, lines int, sum string) error {
	var f sealFigures
	if err := json.Unmarshal(e.Results, &f); err != nil || f.Lines == nil || f.SHA256 == nil {
		return fmt.Errorf(`seal results need "lines" and "sha256" of the bytes before the seal (Journal.Sum)`)
	}
	if *f.Lines != lines {
		return fmt.Errorf("seal counts %d lines before it, there are %d", *f.Lines, lines)
	}
	if *f.SHA256 != sum {
		return fmt.Errorf("seal sha256 %q is not that of the %d lines before it (%s)", *f.SHA256, lines, sum)
	}
	return nil
}

// parsePublicKey reads one PEM PUBLIC KEY block of a key type lines can be
// signed with, and nothing else.
func parsePublicKey(s string) (crypto.PublicKey, error) {
	b, rest := pem.Decode([]byte(s))
	switch {
	case b == nil:
		return nil, fmt.Errorf("not PEM")
	case b.Type != "PUBLIC KEY" || len(b.Headers) > 0 || len(rest) > 0:
		return nil, fmt.Errorf("want exactly one PEM PUBLIC KEY block, no headers")
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	if _, err := hashFor(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// PublicKeyPEM is the PEM PUBLIC KEY (SubjectPublicKeyInfo) form the header
// and witness lines record keys in.
func PublicKeyPEM(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// linesSHA256 is the hex SHA-256 of lines, each with its '\n', as the file
// holds them.
func linesSHA256(lines [][]byte) string {
	h := sha256.New()
	for _, l := range lines {
		h.Write(l)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// remarshal moves v into out through JSON: Inputs are maps as decoded, or
// the caller's own types before writing.
func remarshal(v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

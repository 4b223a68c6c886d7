package audit

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ceremony-dev/ceremony/transcript"
)

// Options say what to verify a transcript against.
type Options struct {
	// CA is the ceremony CA the auditor trusts (ca.pem from a copy they
	// hold): the one trust anchor. Required.
	CA *x509.Certificate
	// ArtifactsDir, when set, is the ceremony's output directory: every
	// file the transcript recorded must be there with the recorded SHA-256.
	ArtifactsDir string
	// RequireWitnesses is how many distinct declared witnesses must have
	// signed after the seal.
	RequireWitnesses int
}

// The checks, in the order they run.
const (
	CheckTranscript   = "transcript"         // transcript.Verify: signatures, chain, seq, seal, witness lines
	CheckCA           = "ca"                 // the transcript's ca.pem is the CA given
	CheckSigner       = "signer certificate" // transcript.pem: issued by the CA, over the key that signed the lines
	CheckCertificates = "certificates"       // every recorded certificate and CSR
	CheckRootJSON     = "root.json"          // notary's own client check of each recorded root.json
	CheckArtifacts    = "artifacts"          // the files on disk (with ArtifactsDir)
	CheckWitnesses    = "witnesses"          // witness signatures, and how many declared ones signed
)

// Verify checks the transcript at path offline, with opts.CA as the only
// trust anchor, and tells what the ceremony did. Checks run in order and stop
// at the first failure, which Result.Failure names. The error is for a
// transcript that cannot be read at all (or no CA given); everything the
// file itself gets wrong is in the Result.
func Verify(ctx context.Context, path string, opts Options) (*Result, error) {
	if opts.CA == nil {
		return nil, errors.New("audit: no CA certificate to verify against")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	a := &auditor{opts: opts, res: &Result{Transcript: path, Checks: []Check{}, Witnesses: []Witness{}}}
	a.run(ctx, data)
	return a.res, nil
}

// Read tells what a transcript says happened without a CA to anchor it:
// only the transcript check runs (every line signed by the key its header
// names, the chain, the seal, the witness lines). The Result is marked
// Unanchored and is never OK: anyone holding some key can write a
// transcript that reads well. `ceremony replay` without --ca shows it so.
func Read(ctx context.Context, path string) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	a := &auditor{res: &Result{Transcript: path, Checks: []Check{}, Witnesses: []Witness{}, Unanchored: true}}
	if err := ctx.Err(); err != nil {
		a.fail(CheckTranscript, err)
		return a.res, nil
	}
	detail, err := a.transcript(data)
	switch {
	case err != nil && !a.res.Unfinished:
		a.fail(CheckTranscript, err)
		return a.res, nil
	case err != nil:
		a.fail(CheckTranscript, err)
	default:
		a.res.Checks = append(a.res.Checks, Check{Name: CheckTranscript, OK: true, Detail: detail})
	}
	for _, w := range a.rec.v.Witnesses {
		a.res.Witnesses = append(a.res.Witnesses, Witness{Name: w.Name, Role: w.Role, KeyID: w.KeyID, Statement: w.Statement,
			Time: w.Time, Line: w.Line, Declared: a.declared(w.KeyID)})
	}
	a.lineChecks()
	return a.res, nil
}

// auditor runs the checks over one transcript.
type auditor struct {
	opts Options
	res  *Result
	rec  *record // nil until the transcript verified
}

type check struct {
	name string
	run  func() (detail string, err error)
}

func (a *auditor) checks(data []byte) []check {
	return []check{
		{CheckTranscript, func() (string, error) { return a.transcript(data) }},
		{CheckCA, a.ca},
		{CheckSigner, a.signer},
		{CheckCertificates, a.certificates},
		{CheckRootJSON, a.rootJSON},
		{CheckArtifacts, a.artifacts},
		{CheckWitnesses, a.witnesses},
	}
}

// run records each check until one fails.
func (a *auditor) run(ctx context.Context, data []byte) {
	for _, c := range a.checks(data) {
		if err := ctx.Err(); err != nil {
			a.fail(c.name, err)
			return
		}
		detail, err := c.run()
		if err != nil {
			a.fail(c.name, err)
			if c.name == CheckTranscript && a.res.Unfinished {
				continue // the lines that are there still tell what happened
			}
			a.lineChecks()
			return
		}
		a.res.Checks = append(a.res.Checks, Check{Name: c.name, OK: true, Detail: detail})
	}
	a.res.OK = a.res.Failure == nil
	a.lineChecks()
}

// fail records a check that did not hold; the first one is the Failure.
func (a *auditor) fail(name string, err error) {
	line, msg := splitLine(err)
	a.res.Checks = append(a.res.Checks, Check{Name: name, Detail: msg})
	if a.res.Failure == nil {
		a.res.Failure = &Failure{Check: name, Line: line, Message: msg}
	}
}

// transcript runs transcript.Verify and reads what the checks after it need.
// An unfinished ceremony's lines are read too (Result.Unfinished), and the
// check fails with why there is no seal.
func (a *auditor) transcript(data []byte) (string, error) {
	v, unfinished, err := transcript.VerifyUnfinished(data)
	if err != nil {
		return "", err
	}
	rec, err := newRecord(v)
	if err != nil {
		return "", err
	}
	a.rec = rec
	a.res.Ceremony = ceremonyOf(rec, a.opts.CA)
	if unfinished != nil {
		a.res.Unfinished = true
		return "", unfinished
	}
	return fmt.Sprintf("%d lines through the seal, each signed by %s and chained to the one before; sealed at line %d",
		len(v.Entries), v.SignerKeyID, v.Seal.Seq+1), nil
}

// problem is a failed check about one line (0: about no line).
type problem struct {
	line int
	msg  string
}

func (p *problem) Error() string { return p.msg }

func failAt(line int, format string, args ...any) error {
	return &problem{line: line, msg: fmt.Sprintf(format, args...)}
}

// splitLine takes the line a failure is about: a problem's, or the "line N: "
// that transcript's errors start with.
func splitLine(err error) (int, string) {
	var p *problem
	if errors.As(err, &p) {
		return p.line, p.msg
	}
	msg := err.Error()
	var n int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &n); scanErr == nil && n > 0 {
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			return n, rest
		}
	}
	return 0, msg
}

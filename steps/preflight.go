package steps

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ceremony-dev/ceremony/internal/newfile"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/trust"
)

// ProblemsError lists every problem a preflight found, so the operator fixes
// them all in one pass instead of one per run.
type ProblemsError struct{ Problems []error }

func (e *ProblemsError) Error() string {
	if len(e.Problems) == 1 {
		return "preflight: " + e.Problems[0].Error()
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "  - " + p.Error()
	}
	return fmt.Sprintf("preflight found %d problems:\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

func (e *ProblemsError) Unwrap() []error { return e.Problems }

func preflightStep(cfg *config.Config) Step {
	return Step{
		ID:    PreflightID,
		Title: "Preflight",
		Explain: "Check everything that can be checked before anything irreversible happens: the module loads, " +
			"the token is there, the PIN is right, no key label clashes, the output directory is usable, the clock is sane.",
		Seed:   []string{"(manual checks before the ceremony)"},
		Inputs: map[string]any{"module": cfg.HSM.Module, "token": cfg.HSM.Token, "output": cfg.OutputDir()},
		run:    func(ctx context.Context, st *State) (*Result, error) { return st.runPreflight(ctx, st.plan) },
	}
}

// preflightRun checks the whole plan before anything is made, and opens the
// token session the later steps use. Every check is derived from what the
// steps declare; independent problems are all listed at once.
type preflightRun struct {
	st       *State
	plan     *Plan
	problems []error
	facts    map[string]any
}

func (p *preflightRun) add(errs ...error) {
	for _, err := range errs {
		if err != nil {
			p.problems = append(p.problems, err)
		}
	}
}

// runPreflight is step 0's run.
func (st *State) runPreflight(ctx context.Context, plan *Plan) (*Result, error) {
	p := &preflightRun{st: st, plan: plan, facts: map[string]any{}}
	p.clock()
	p.add(checkOutputDir(st.cfg.OutputDir(), st.hist.resuming))
	p.add(dryRun(ctx, plan, st.issuedAt))
	p.secrets()
	p.token(ctx)
	p.server(ctx)
	for i := range plan.Steps {
		if f := plan.Steps[i].preflight; f != nil {
			p.add(f(ctx, st)...)
		}
	}
	if len(p.problems) > 0 {
		return nil, &ProblemsError{Problems: p.problems}
	}
	tok := st.token.token
	return &Result{
		Summary: fmt.Sprintf("token %q (%s %s, serial %s) ready; output %s", st.cfg.HSM.Token, tok["manufacturer"], tok["model"], tok["serial"], st.cfg.OutputDir()),
		Facts:   p.facts,
	}, nil
}

func (p *preflightRun) clock() {
	now := p.st.now()
	p.facts["clock"] = now.UTC().Format("2006-01-02T15:04:05Z")
	if now.Year() < 2025 || now.Year() > 2100 {
		p.add(fmt.Errorf("clock: the system time %s is not plausible; set the clock before issuing certificates", now.UTC().Format("2006-01-02")))
	}
}

// secrets checks every secret source a step declares, without reading it.
func (p *preflightRun) secrets() {
	for _, s := range p.plan.Secrets() {
		if !s.Passphrase {
			p.add(checkSource(s.Field, s.Source, p.st.prompter))
			continue
		}
		src, err := secret.Parse(s.Source)
		if err == nil {
			err = src.CheckPassphrase(p.st.prompter)
		}
		if err != nil {
			p.add(fmt.Errorf("%s: %w", s.Field, err))
		}
	}
}

func checkSource(field, source string, p secret.Prompter) error {
	src, err := secret.Parse(source)
	if err == nil {
		err = src.Check(p)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// token opens the session, then checks the token can make every declared
// key and that no declared label is taken. Without a usable PIN source the
// token is still looked for, so that a missing token shows up in the same run.
func (p *preflightRun) token(ctx context.Context) {
	cfg := p.st.cfg
	pinErr := checkSource("hsm.pin", cfg.HSM.PIN, p.st.prompter)
	p.add(pinErr)
	pinSrc, _ := secret.Parse(cfg.HSM.PIN)
	sess, facts, err := openToken(ctx, cfg, pinSrc, p.st.prompter, pinErr == nil, p.st.hsmOpts...)
	p.add(err)
	if sess == nil {
		return
	}
	p.st.sess, p.st.token = sess, facts
	p.facts["token"], p.facts["module"] = facts.token, facts.module
	unlock, err := lockToken(sess.Module().Path(), sess.Token().Serial, sess.Token().Label)
	if err != nil {
		p.add(err)
		return
	}
	p.st.unlockToken = unlock
	keys := p.plan.Keys()
	types := make([]keyspec.Type, len(keys))
	for i, k := range keys {
		types[i] = k.Type
	}
	ready := sess.CheckReady(ctx, types...)
	p.add(ready...)
	if slices.ContainsFunc(ready, hsm.TokenFailed) {
		return // the token failed: listing its objects would only fail again
	}
	p.rsaScheme(types)
	p.labels(ctx, keys)
}

// rsaScheme records how RSA keys will sign TUF metadata: RSA-PSS where the
// token lists it, PKCS#1 v1.5 (which notary verifies too) where it does not,
// as on tpm2-pkcs11. Certificates and transcript lines are PKCS#1 v1.5 on
// every token.
func (p *preflightRun) rsaScheme(types []keyspec.Type) {
	if !slices.ContainsFunc(types, func(t keyspec.Type) bool { return !t.IsEC() }) || len(p.plan.Published()) == 0 {
		return
	}
	pss, err := p.st.sess.CanPSS()
	if err != nil {
		p.add(err)
		return
	}
	p.facts["rsaMetadataSignature"] = map[bool]string{true: "rsapss", false: "rsapkcs1v15"}[pss]
}

// labels refuses a declared label that the token already uses for an
// object this ceremony's journal did not make.
func (p *preflightRun) labels(ctx context.Context, keys []Key) {
	objs, err := p.st.sess.Objects(ctx)
	p.add(err)
	for _, k := range keys {
		if p.st.hist.intents[k.Label] {
			continue
		}
		for _, o := range objs {
			if o.Label == k.Label {
				p.add(fmt.Errorf("label %q: %w: token %q holds a %s with that label that this output directory's journal did not make; if an interrupted ceremony made it, run again with that ceremony's output directory (--out) to resume it, otherwise choose another label", k.Label, hsm.ErrLabelInUse, p.st.cfg.HSM.Token, o.Class))
				break
			}
		}
	}
}

// server checks, for a plan that publishes, the trust directory and the
// Notary server over verified TLS; a new ceremony's repositories must be new
// on it. A resumed ceremony's passphrases must open the key files an earlier
// run made.
func (p *preflightRun) server(ctx context.Context) {
	guns := p.plan.Published()
	n := p.st.cfg.Notary
	if len(guns) == 0 || n == nil {
		return
	}
	if err := checkDir(p.st.cfg.Path(n.TrustDir)); err != nil {
		p.add(fmt.Errorf("notary.trust_dir: %w", err))
	}
	if p.st.hist.resuming && len(p.problems) == 0 {
		p.add(p.st.checkPassphrases(ctx)...)
	}
	if n.Auth != "" && checkSource("notary.auth", n.Auth, p.st.prompter) != nil {
		return // secrets() has listed it
	}
	auth, err := p.st.auth(ctx)
	if err != nil {
		p.add(err)
		return
	}
	c, err := trust.CheckServer(ctx, trust.Config{URL: n.URL, TLSCA: p.st.cfg.Path(n.TLSCA), Auth: auth})
	if err != nil {
		p.add(err)
		return
	}
	defer c.Close()
	p.facts["notary"] = n.URL
	if err := c.CheckAccess(ctx, p.access()); err != nil {
		p.add(err)
		return
	}
	pub, err := c.HasTrustDataOf(ctx, p.mustBeNew())
	p.add(err)
	for _, gun := range pub {
		p.add(fmt.Errorf("repository %s already has trust data on %s: a new root key cannot take it over; choose another GUN", gun, n.URL))
	}
}

// access is what the plan's publishing steps still to run will ask of the
// server's token service, by GUN: every one pushes, and the snapshot step
// hands a key to the server, which needs "*".
func (p *preflightRun) access() []trust.Access {
	var need []trust.Access
	at := map[string]int{}
	for _, s := range p.plan.Steps {
		if s.Publishes == "" || p.st.hist.done[s.ID] {
			continue
		}
		i, ok := at[s.Publishes]
		if !ok {
			i = len(need)
			at[s.Publishes] = i
			need = append(need, trust.Access{GUN: s.Publishes})
		}
		if s.ID == SnapshotID(s.Publishes) {
			need[i].RotateKeys = true
		}
	}
	return need
}

// mustBeNew lists the GUNs that must not be on the server yet: those whose
// first publishing step cannot have run, because what it needs has not
// finished. A step that could have run may have published before it was
// killed, and it recognises its own publication.
func (p *preflightRun) mustBeNew() []string {
	var guns []string
	seen := map[string]bool{}
	for _, s := range p.plan.Steps {
		if s.Publishes == "" || seen[s.Publishes] {
			continue
		}
		seen[s.Publishes] = true
		if !p.st.hist.allDone(s.Needs) {
			guns = append(guns, s.Publishes)
		}
	}
	return guns
}

// openToken loads the module, finds the token, reads the PIN and logs in.
func openToken(ctx context.Context, cfg *config.Config, pinSrc secret.Source, p secret.Prompter, readPIN bool, opts ...hsm.Option) (*hsm.Session, tokenRecord, error) {
	// Without a usable PIN source the token is still looked for; the PIN
	// problem itself is already on the list.
	errNoPIN := errors.New("no usable PIN source")
	pin := pinSrc.Reader(secret.PINPrompt(cfg.HSM.Token), p)
	if !readPIN {
		pin = func(context.Context) ([]byte, error) { return nil, errNoPIN }
	}
	sess, err := hsm.Connect(ctx, cfg.HSM.Module, hsm.TokenSelector{Label: cfg.HSM.Token, Serial: cfg.HSM.Serial}, pin, opts...)
	if errors.Is(err, errNoPIN) {
		return nil, tokenRecord{}, nil
	}
	if err != nil {
		return nil, tokenRecord{}, err
	}
	mod := sess.Module()
	// The header records what the library says of itself: a failed
	// C_GetInfo would record blanks as if the library had said them.
	info, err := mod.Info()
	if err != nil {
		sess.Close()
		return nil, tokenRecord{}, err
	}
	t := sess.Token()
	return sess, tokenRecord{
		token: map[string]any{"label": t.Label, "manufacturer": t.Manufacturer, "model": t.Model, "serial": t.Serial,
			"firmware": t.Firmware, "flags": t.FlagNames()},
		module: map[string]any{"path": mod.Path(), "sha256": fileSHA256(mod.Path()),
			"library": info.Manufacturer + " " + info.Description + " " + info.LibraryVersion, "cryptoki": info.Cryptoki},
	}, nil
}

// tokenRecord is what the transcript says of the token and its module.
type tokenRecord struct {
	token, module map[string]any
}

// checkOutputDir accepts a directory that does not exist yet (and can be
// made), an empty one, or, when resuming, the ceremony's own directory.
func checkOutputDir(dir string, resuming bool) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := checkDir(dir); err != nil {
			return fmt.Errorf("output: cannot create %s: %v", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("output: %w", err)
	case !st.IsDir():
		return fmt.Errorf("output: %s exists and is not a directory", dir)
	case resuming:
		if err := writable(dir); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	// A journal interrupted before its header was linked into place leaves
	// only a temporary file: that is a ceremony that never started.
	// So is one holding only the intent of its transcript key: the start
	// was interrupted between making that key and writing the header.
	entries = slices.DeleteFunc(entries, func(e os.DirEntry) bool {
		return strings.HasPrefix(e.Name(), newfile.TempPrefix) || e.Name() == IntentFile
	})
	if len(entries) > 0 {
		return fmt.Errorf("output: %s exists and holds files but no ceremony journal; choose a new output directory (outputs are never overwritten)", dir)
	}
	if err := writable(dir); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	return nil
}

// checkDir accepts a directory that exists and is writable, or that can be
// made (its nearest existing ancestor is a writable directory).
func checkDir(dir string) error {
	d := dir
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", d)
			}
			return writable(d)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return err
		}
		d = parent
	}
}

func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".ceremony-write-test-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

func fileSHA256(path string) string {
	// Streamed: the binary is tens of megabytes, and reading it whole cost
	// a third of a short ceremony's CPU.
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// issuedAt is when a certificate is (or was) issued: a resumed ceremony's
// certificate on disk keeps its notBefore, so the dry run checks later
// certificates against the CA that exists, not a CA issued now.
func (st *State) issuedAt(file string) time.Time {
	if b, err := st.existing(file); err == nil && b != nil {
		if c, err := pki.ParseCertPEM(b); err == nil {
			return c.NotBefore
		}
	}
	return st.now()
}

// dryRun issues every certificate the plan declares with throwaway software
// keys of the declared types, through the same profiles and the same
// lint-then-sign path the steps use: a profile that zlint or a validity
// rule would reject is found now, before any key is made on the token. The
// throwaway keys never leave this function.
func dryRun(ctx context.Context, plan *Plan, issuedAt func(file string) time.Time) error {
	// One throwaway key per type: a 4096-bit RSA key takes seconds to make,
	// and the profiles do not care whether two labels share one here.
	byType := map[keyspec.Type]crypto.Signer{}
	keys := map[string]crypto.Signer{}
	for _, k := range plan.Keys() {
		if byType[k.Type] == nil {
			key, err := k.Type.Throwaway()
			if err != nil {
				return fmt.Errorf("dry run: %w", err)
			}
			byType[k.Type] = key
		}
		keys[k.Label] = byType[k.Type]
	}
	certs := map[string]*x509.Certificate{}
	for _, c := range plan.Certs() {
		cert, err := dryIssue(ctx, c, keys, certs, issuedAt(c.File), plan.Config.Training)
		if err != nil {
			return fmt.Errorf("dry run of the plan's certificates: %s: %w", c.File, err)
		}
		certs[c.File] = cert
	}
	return nil
}

func dryIssue(ctx context.Context, c Cert, keys map[string]crypto.Signer, certs map[string]*x509.Certificate, now time.Time, training bool) (*x509.Certificate, error) {
	key, signer := keys[c.Key], keys[c.IssuerKey]
	if key == nil || signer == nil {
		return nil, fmt.Errorf("the plan makes no key %q or %q", c.Key, c.IssuerKey)
	}
	in := Issuance{Signer: signer, IssuerCert: certs[c.Issuer], Request: pki.Request{Now: now, Rand: rand.Reader, Training: training}}
	if c.Issuer != "" && in.IssuerCert == nil {
		return nil, fmt.Errorf("its issuer %s comes later in the plan", c.Issuer)
	}
	if c.CSR.CN != "" {
		der, err := pki.NewCSR(key, c.CSR.CN)
		if err != nil {
			return nil, err
		}
		if in.CSR, err = pki.ParseCSR(der); err != nil {
			return nil, err
		}
	}
	return c.Issue(ctx, in)
}

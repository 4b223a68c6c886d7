package steps

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
		ID:    "preflight",
		Title: "Preflight",
		Explain: "Check everything that can be checked before anything irreversible happens: the module loads, " +
			"the token is there, the PIN is right, no key label clashes, the output directory is usable, the clock is sane.",
		Seed:   []string{"(manual checks before the ceremony)"},
		Inputs: map[string]any{"module": cfg.HSM.Module, "token": cfg.HSM.Token, "output": cfg.OutputDir()},
		run:    runPreflight,
	}
}

// runPreflight opens the token session the later steps use. Problems that do
// not depend on each other are all collected; a problem that makes later
// checks meaningless (no module, wrong PIN) ends the token checks there.
func runPreflight(ctx context.Context, st *State) (*Result, error) {
	cfg := st.cfg
	var problems []error
	add := func(err error) { problems = append(problems, err) }
	facts := map[string]any{}

	now := st.now()
	facts["clock"] = now.UTC().Format("2006-01-02T15:04:05Z")
	if now.Year() < 2025 || now.Year() > 2100 {
		add(fmt.Errorf("clock: the system time %s is not plausible; set the clock before issuing certificates", now.UTC().Format("2006-01-02")))
	}
	if err := checkOutputDir(cfg.OutputDir(), st.journal != nil); err != nil {
		add(err)
	}
	if err := dryRun(ctx, cfg, now); err != nil {
		add(err)
	}

	pinSrc, pinErr := secret.Parse(cfg.HSM.PIN)
	if pinErr == nil {
		pinErr = pinSrc.Check()
	}
	if pinErr != nil {
		add(fmt.Errorf("hsm.pin: %w", pinErr))
	}

	// Without a usable PIN source the token is still looked for, so that a
	// missing token shows up in the same run.
	sess, tokenFacts, err := openToken(ctx, cfg, pinSrc, st.prompter, pinErr == nil)
	if err != nil {
		add(err)
	}
	if sess != nil {
		st.sess = sess
		facts["token"] = tokenFacts
		types := []keyspec.Type{cfg.CA.Key, cfg.Root.Key}
		if cfg.Notary != nil && cfg.Notary.TargetsKey != nil {
			types = append(types, cfg.Notary.TargetsKey.Key)
		}
		problems = append(problems, sess.CheckReady(ctx, types...)...)
		objs, err := sess.Objects(ctx)
		if err != nil {
			add(err)
		}
		labels := []string{cfg.CA.Label, cfg.Root.Label}
		if cfg.Notary != nil && cfg.Notary.TargetsKey != nil {
			labels = append(labels, cfg.Notary.TargetsKey.Label)
		}
		for _, label := range labels {
			for _, o := range objs {
				if o.Label == label && !st.intents[label] {
					add(fmt.Errorf("label %q: %w: token %q holds a %s with that label that this output directory's journal did not make; if an interrupted ceremony made it, run again with that ceremony's output directory (--out) to resume it, otherwise choose another label", label, hsm.ErrLabelInUse, cfg.HSM.Token, o.Class))
					break
				}
			}
		}
	}
	if n := cfg.Notary; n != nil {
		sources := [][2]string{{"notary.snapshot_passphrase", n.SnapshotPassphrase}}
		if n.TargetsKey == nil {
			sources = append(sources, [2]string{"notary.targets_passphrase", n.TargetsPassphrase})
		}
		for _, p := range sources {
			if src, err := secret.Parse(p[1]); err != nil {
				add(fmt.Errorf("%s: %w", p[0], err))
			} else if err := src.Check(); err != nil {
				add(fmt.Errorf("%s: %w", p[0], err))
			}
		}
		if err := checkDir(cfg.Path(n.TrustDir)); err != nil {
			add(fmt.Errorf("notary.trust_dir: %w", err))
		}
		// A resumed ceremony may find the targets and snapshot key files an
		// earlier run made: the passphrases must open them.
		if st.journal != nil && len(problems) == 0 {
			problems = append(problems, st.checkPassphrases(ctx)...)
		}
		for i, d := range cfg.Delegations {
			b, err := os.ReadFile(cfg.Path(d.Cert))
			if err == nil {
				_, err = trust.DelegatePublicKeyID(b)
			}
			if err != nil {
				add(fmt.Errorf("delegations[%d].cert %s: %w", i, d.Cert, err))
			}
		}
		// The server must answer over verified TLS before any key is made:
		// a ceremony that cannot publish should stop before it starts.
		if err := trust.CheckServer(ctx, n.URL, cfg.Path(n.TLSCA)); err != nil {
			add(err)
		} else {
			facts["notary"] = n.URL
			// A new ceremony's repositories must be new on the server too.
			for _, r := range cfg.Repositories {
				if st.journal != nil {
					break
				}
				if pub, err := trust.Published(ctx, n.URL, cfg.Path(n.TLSCA), r.GUN); err != nil {
					add(err)
				} else if pub {
					add(fmt.Errorf("repository %s already has trust data on %s: a new root key cannot take it over; choose another GUN", r.GUN, n.URL))
				}
			}
		}
	}
	if len(problems) > 0 {
		return nil, &ProblemsError{Problems: problems}
	}
	return &Result{
		Summary: fmt.Sprintf("token %q (%s %s, serial %s) ready; output %s", cfg.HSM.Token, tokenFacts["manufacturer"], tokenFacts["model"], tokenFacts["serial"], cfg.OutputDir()),
		Facts:   facts,
	}, nil
}

// openToken loads the module, finds the token, reads the PIN and logs in.
func openToken(ctx context.Context, cfg *config.Config, pinSrc secret.Source, p secret.Prompter, readPIN bool) (*hsm.Session, map[string]any, error) {
	// Without a usable PIN source the token is still looked for; the PIN
	// problem itself is already on the list.
	errNoPIN := errors.New("no usable PIN source")
	pin := pinSrc.Reader(secret.PINPrompt(cfg.HSM.Token), p)
	if !readPIN {
		pin = func(context.Context) ([]byte, error) { return nil, errNoPIN }
	}
	sess, err := hsm.Connect(ctx, cfg.HSM.Module, hsm.TokenSelector{Label: cfg.HSM.Token, Serial: cfg.HSM.Serial}, pin)
	if errors.Is(err, errNoPIN) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	mod := sess.Module()
	info, _ := mod.Info()
	t := sess.Token()
	facts := map[string]any{
		"module": mod.Path(), "moduleSha256": fileSHA256(mod.Path()),
		"library": info.Manufacturer + " " + info.Description + " " + info.LibraryVersion,
		"label":   t.Label, "manufacturer": t.Manufacturer, "model": t.Model, "serial": t.Serial,
		"firmware": t.Firmware, "flags": t.FlagNames(),
	}
	return sess, facts, nil
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
	entries = slices.DeleteFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".tmp-") })
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
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return sha256Hex(b)
}

// dryRun issues every certificate of the plan with throwaway software keys of
// the configured types, through the same lint-then-sign path: a profile that
// zlint or a validity rule would reject is found now, before any key is made
// on the token, instead of after the CA key exists. The throwaway keys never
// leave this function.
func dryRun(ctx context.Context, cfg *config.Config, now time.Time) error {
	caKey, err := throwaway(cfg.CA.Key)
	if err != nil {
		return err
	}
	rootKey := caKey
	if cfg.Root.Key != cfg.CA.Key {
		if rootKey, err = throwaway(cfg.Root.Key); err != nil {
			return err
		}
	}
	subject, err := pki.ParseSubject(cfg.CA.Subject)
	if err != nil {
		return fmt.Errorf("ca.subject: %w", err)
	}
	ca, err := pki.IssueCA(ctx, caKey, pki.Request{Subject: subject, Days: cfg.CA.Days, Now: now, Rand: rand.Reader})
	if err != nil {
		return fmt.Errorf("dry run of the plan's certificates: %w", err)
	}
	csrFor := func(cn string) (*x509.CertificateRequest, error) {
		der, err := pki.NewCSR(rootKey, cn)
		if err != nil {
			return nil, err
		}
		return pki.ParseCSR(der)
	}
	csr, err := csrFor(pki.RootCommonName)
	if err == nil {
		_, err = pki.IssueRoot(ctx, rootKey, csr, pki.Request{Days: cfg.Root.Days, Now: now, Rand: rand.Reader})
	}
	if err != nil {
		return fmt.Errorf("dry run of the plan's certificates: %w", err)
	}
	for _, r := range cfg.Repositories {
		csr, err := csrFor(r.GUN)
		if err == nil {
			_, err = pki.IssueRepo(ctx, ca, caKey, csr, r.GUN, pki.Request{Days: r.Days, Now: now, Rand: rand.Reader})
		}
		if err != nil {
			return fmt.Errorf("dry run of the plan's certificates: %w", err)
		}
	}
	return nil
}

func throwaway(t keyspec.Type) (crypto.Signer, error) {
	if t.IsEC() {
		return ecdsa.GenerateKey(t.Curve(), rand.Reader)
	}
	return rsa.GenerateKey(rand.Reader, t.Bits())
}

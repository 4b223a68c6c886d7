package steps

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
)

// State is what the steps of one run share: the token session, the journal,
// and what earlier steps produced.
type State struct {
	cfg      *config.Config
	sess     *hsm.Session
	journal  *transcript.Journal
	now      func() time.Time
	hook     func(point string)
	emit     func(Event)
	prompter secret.Prompter

	// restoring is true while a step the journal shows finished is replayed
	// to rebuild state: then nothing may be created, only found.
	restoring bool
	step      *Step
	index     int
	total     int

	// intents are the key labels the journal says this ceremony set out to
	// generate; a key under such a label is ours to adopt, any other is a clash.
	intents map[string]bool
	// done holds the IDs of the steps the journal shows finished.
	done map[string]bool

	caKey, rootKey   *hsm.Key
	caCert, rootCert *x509.Certificate
	rootCSR          *x509.CertificateRequest
	repoCerts        map[string]*x509.Certificate
	trust            *trust.Client
	// The notary key passphrases, read once per run.
	targetsPass, snapshotPass []byte
}

func (st *State) progress(format string, a ...any) { st.event(StepProgress, fmt.Sprintf(format, a...)) }
func (st *State) event(kind EventKind, msg string) { st.emitEvent(Event{Kind: kind, Message: msg}) }
func (st *State) point(name string)                { st.hook(st.step.ID + ":" + name) }
func (st *State) outPath(rel string) string        { return filepath.Join(st.cfg.OutputDir(), rel) }
func (st *State) emitEvent(e Event) {
	e.Index, e.Total, e.Time = st.index, st.total, st.now()
	if st.step != nil {
		e.StepID, e.Title = st.step.ID, st.step.Title
	}
	st.emit(e)
}

// errRestore is returned when the journal says a step finished but what it
// made is gone: the ceremony cannot be resumed safely by guessing.
var errRestore = errors.New("the journal records this step as finished, but")

// key finds the key pair under label or generates it. Before generating it
// journals an intent, so that if the process dies between C_GenerateKeyPair
// and the step's entry, the next run adopts the key instead of tripping over
// its label, and the token never holds two.
func (st *State) key(ctx context.Context, label string, typ keyspec.Type) (*hsm.Key, bool, error) {
	k, err := st.sess.FindKey(ctx, hsm.KeySelector{Label: label})
	switch {
	case err == nil:
		if !st.intents[label] {
			return nil, false, fmt.Errorf("%w: token %q already holds a key labelled %q that this ceremony did not make; choose another label", hsm.ErrLabelInUse, st.sess.Token().Label, label)
		}
		if k.Type != typ {
			return nil, false, fmt.Errorf("key %q on the token is %s, the config asks for %s", label, k.Type, typ)
		}
		if err := k.Attrs.Safe(); err != nil {
			return nil, false, fmt.Errorf("key %q: %w", label, err)
		}
		if err := hsm.SelfTest(ctx, k); err != nil {
			return nil, false, fmt.Errorf("key %q: %w", label, err)
		}
		st.progress("found key %q (id %s) made by this ceremony before it was interrupted", label, k.IDHex())
		return k, true, nil
	case !errors.Is(err, hsm.ErrKeyNotFound):
		return nil, false, err
	}
	if st.restoring {
		return nil, false, fmt.Errorf("%w key %q is not on token %q", errRestore, label, st.sess.Token().Label)
	}
	if st.intents[label] {
		// A crash inside C_GenerateKeyPair can leave a public half alone.
		n, err := st.sess.RemoveOrphanPublicKeys(ctx, label)
		if err != nil {
			return nil, false, err
		}
		if n > 0 {
			st.progress("removed %d public key object(s) labelled %q left without a private key by the interruption", n, label)
		}
	} else {
		if _, err := st.journal.Append(ctx, transcript.Entry{
			Kind:    transcript.KindIntent,
			Step:    &transcript.StepRef{ID: st.step.ID, Title: st.step.Title},
			Started: st.now().UTC(),
			Inputs:  map[string]any{"generate": map[string]any{"label": label, "type": string(typ)}},
		}); err != nil {
			return nil, false, err
		}
		st.intents[label] = true
	}
	st.point("before-generate-" + label)
	var key *hsm.Key
	err = st.during(ctx, fmt.Sprintf("generating %s key %q inside token %q", typ, label, st.sess.Token().Label), func() error {
		var err error
		key, err = st.sess.GenerateKey(ctx, hsm.KeySpec{Label: label, Type: typ})
		return err
	})
	if err != nil {
		return nil, false, err
	}
	st.point("after-generate-" + label)
	st.progress("key %q generated (id %s); the token reports it sensitive, never extractable, generated on the token", label, key.IDHex())
	return key, false, nil
}

// during runs a long token operation and reports progress every second, so an
// operator watching a 4096-bit RSA generation knows the tool is alive.
func (st *State) during(ctx context.Context, what string, fn func() error) error {
	st.progress("%s…", what)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- fn() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			st.progress("%s… %ds", what, int(time.Since(start).Seconds()))
		case <-ctx.Done():
			// The token call cannot be cancelled; wait for it so the session
			// is not reused under it.
			err := <-done
			if err == nil {
				err = ctx.Err()
			}
			return err
		}
	}
}

// existing returns the content of an output file a previous run of this
// ceremony wrote, or nil if it is absent.
func (st *State) existing(rel string) ([]byte, error) {
	b, err := os.ReadFile(st.outPath(rel))
	if errors.Is(err, os.ErrNotExist) {
		if st.restoring {
			return nil, fmt.Errorf("%w %s is missing from %s", errRestore, rel, st.cfg.OutputDir())
		}
		return nil, nil
	}
	return b, err
}

// write puts a new output file in place atomically: the bytes go to a temp
// file, are synced, and the temp file is linked to the final name, which
// fails if the name exists. A crash leaves either the whole file or none,
// and nothing is ever overwritten.
func (st *State) write(rel string, data []byte) error {
	path := st.outPath(rel)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	defer os.Remove(tmp.Name())
	// Outputs are certificates and CSRs: public, made to be handed out.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	st.point("tmp-written-" + rel)
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			if old, rerr := os.ReadFile(path); rerr == nil && bytes.Equal(old, data) {
				return nil
			}
			return fmt.Errorf("write %s: %s exists and differs; it is never overwritten", rel, path)
		}
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func spkiSHA256(k *hsm.Key) string {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return ""
	}
	return sha256Hex(der)
}

// keyFacts is what the transcript records of a key: where it is, what it is,
// and the token's own word that it cannot leave.
func keyFacts(k *hsm.Key, adopted bool) map[string]any {
	return map[string]any{
		"label":      k.Label,
		"ckaId":      k.IDHex(),
		"type":       string(k.Type),
		"spkiSha256": spkiSHA256(k),
		"attributes": k.Attrs,
		"adopted":    adopted,
	}
}

func certFacts(c *x509.Certificate) map[string]any {
	return map[string]any{
		"subject":   c.Subject.String(),
		"issuer":    c.Issuer.String(),
		"serial":    c.SerialNumber.Text(16),
		"notBefore": c.NotBefore.UTC().Format(time.RFC3339),
		"notAfter":  c.NotAfter.UTC().Format(time.RFC3339),
		"sha256":    sha256Hex(c.Raw),
	}
}

// needSession is the precondition of steps that use the token.
func needSession(st *State) error {
	if st.sess == nil {
		return fmt.Errorf("no logged-in token session: preflight has not run")
	}
	return nil
}

// needDone is the precondition of a step that follows another.
func needDone(ids ...string) func(st *State) error {
	return func(st *State) error {
		for _, id := range ids {
			if !st.done[id] {
				return fmt.Errorf("step %s has not finished", id)
			}
		}
		return nil
	}
}

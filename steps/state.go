package steps

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/ceremony-dev/ceremony/internal/newfile"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
)

// State is what the steps of one run share: the token session, the journal,
// what the journal says happened before, and the artifacts steps produced,
// keyed by what they declared.
type State struct {
	plan  *Plan
	cfg   *config.Config
	sess  *hsm.Session
	token tokenRecord
	// unlockToken releases the token's lock (lock.go), held from preflight.
	unlockToken func()
	journal     *transcript.Journal
	now         func() time.Time
	hook        func(point string)
	emit        func(Event)
	prompter    secret.Prompter
	hsmOpts     []hsm.Option // Options.HSM

	step  *Step
	index int
	total int
	// current is step for the deviation listener's goroutine.
	current atomic.Pointer[Step]

	answer     func(context.Context, Question) Answer
	deviations <-chan Deviation
	skipped    []ID        // steps the operator skipped after a failure
	gated      map[ID]bool // steps whose gate was asked this run

	hist  *history
	keys  map[string]*hsm.Key          // by label
	certs map[string]*x509.Certificate // by file
	// generated holds the labels this run generated rather than found.
	generated map[string]bool
	// unsynced are the directories write linked files into since the last
	// syncWritten.
	unsynced map[string]bool
	trust    *trust.Client
	// The notary key passphrases, read once per run.
	targetsPass, snapshotPass []byte
	// notaryAuth is notary.auth's value, read once per run.
	notaryAuth []byte
}

// at makes step (index i) the current one.
func (st *State) at(step *Step, i int) {
	st.step, st.index = step, i
	st.current.Store(step)
}

func (st *State) progress(format string, a ...any) { st.event(StepProgress, fmt.Sprintf(format, a...)) }
func (st *State) event(kind EventKind, msg string) { st.emitEvent(Event{Kind: kind, Message: msg}) }
func (st *State) point(name string)                { st.hook(string(st.step.ID) + ":" + name) }
func (st *State) outPath(rel string) string        { return filepath.Join(st.cfg.OutputDir(), rel) }
func (st *State) emitEvent(e Event) {
	e.Index, e.Total, e.Time = st.index, st.total, st.now()
	if st.step != nil {
		e.StepID, e.Title = st.step.ID, st.step.Title
	}
	st.emit(e)
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
// ceremony wrote, or nil if it is absent (or not declared: rel is empty).
func (st *State) existing(rel string) ([]byte, error) {
	if rel == "" {
		return nil, nil
	}
	path := st.outPath(rel)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err == nil {
		// A run killed between writing the file and syncing its directory
		// left a name that is not yet durable: it is synced before anything
		// relies on it, as if this run had written it.
		st.unsynced[filepath.Dir(path)] = true
	}
	return b, err
}

// write puts a new output file in place whole or not at all, and never
// over an existing one (a file with the same bytes is taken as written).
// Outputs are certificates and CSRs: public, made to be handed out. The
// file's name becomes durable at syncWritten, before anything relies on it.
func (st *State) write(rel string, data []byte) error {
	path := st.outPath(rel)
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		// A new directory's own name must be durable too.
		st.unsynced[filepath.Dir(dir)] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := newfile.WriteLinked(path, data, 0o644, func() { st.point("tmp-written-" + rel) }); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	st.unsynced[dir] = true
	return nil
}

// syncWritten makes the names of the files written since the last call
// durable: one directory sync for a repository's CSR and certificate, not
// one each. The runner calls it before the step's journal entry (which
// lists the files) and before a certificate goes onto the token.
func (st *State) syncWritten() error {
	for dir := range st.unsynced {
		if err := newfile.SyncDir(dir); err != nil {
			return err
		}
		delete(st.unsynced, dir)
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

// firstTry reports that step id runs for the first time in this ceremony:
// a new one (no journal before this run), and no attempt failed in this
// run. Only then can nothing of it be on a server already; a resumed
// ceremony cannot tell, because a run killed mid-step leaves no entry.
func (st *State) firstTry(id ID) bool { return !st.hist.resuming && st.hist.attempts[id] == 0 }

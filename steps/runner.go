package steps

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/ceremony-dev/ceremony/internal/newfile"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/transcript"
)

// Options tune a run.
type Options struct {
	// Events receives every event, in order, on the runner's goroutine.
	Events func(Event)
	// Prompter asks for secrets whose source is "prompt"; nil refuses them.
	Prompter secret.Prompter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Hook is called at named points inside steps ("ca:after-generate-ca");
	// tests use it to kill the process there.
	Hook func(point string)
	// Version is the tool's version for the transcript header.
	Version string
	// Ask answers the runner's questions (gate.go): confirm an irreversible
	// step; retry, skip or abort after a failure. nil answers as a headless
	// run: go ahead at every gate, stop at the first failure.
	Ask func(ctx context.Context, q Question) Answer
	// Deviations are recorded in the journal as they arrive, from when the
	// journal exists until the run ends.
	Deviations <-chan Deviation
	// HSM are options for opening the token's module: a test stands a
	// fault injector between the run and the token (hsm.WithPKCS11).
	HSM []hsm.Option
}

// ErrFinished means the output directory holds a ceremony that already ran
// to the end: it is never run twice.
var ErrFinished = errors.New("the ceremony in this output directory has finished")

// Run executes the plan. A fresh output directory gets a new journal once
// preflight passes (so a failed preflight writes nothing); an existing journal
// of the same config is resumed after its last finished step.
func Run(ctx context.Context, plan *Plan, opts Options) (err error) {
	opts = opts.withDefaults()
	var st *State
	defer func() {
		// Ctrl-C surfaces as "context canceled" from wherever the run was;
		// say what it means for the operator instead.
		if err != nil && ctx.Err() != nil {
			err = interrupted(ctx, st)
		}
	}()
	if err := plan.Check(); err != nil {
		return err
	}
	unlock, err := lockConfig(plan.Config.File)
	if err != nil {
		return err
	}
	defer unlock()
	st = newState(plan, opts)
	defer st.close()
	configChanged, err := st.readJournal(plan)
	if err != nil {
		return err
	}
	if err := st.preflight(ctx, plan, opts.Version, configChanged); err != nil {
		return err
	}
	for i := 1; i < len(plan.Steps); i++ {
		if err := st.runStep(ctx, i, &plan.Steps[i]); err != nil {
			return err
		}
	}
	return st.seal(ctx, plan)
}

// interrupted says what a cancelled run means for the operator.
func interrupted(ctx context.Context, st *State) error {
	if st == nil || (st.journal == nil && !st.hist.resuming) {
		return fmt.Errorf("interrupted (%v) before the ceremony's journal was written; run the same command to start again", ctx.Err())
	}
	return fmt.Errorf("interrupted (%v): the journal records how far the ceremony got; run the same command to continue", ctx.Err())
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hook == nil {
		o.Hook = func(string) {}
	}
	if o.Events == nil {
		o.Events = func(Event) {}
	}
	return o
}

func newState(plan *Plan, opts Options) *State {
	return &State{skipped: []ID{}, gated: map[ID]bool{}, answer: opts.Ask, deviations: opts.Deviations, plan: plan, cfg: plan.Config, now: opts.Now, hook: opts.Hook, emit: opts.Events, prompter: opts.Prompter, hsmOpts: opts.HSM,
		hist: newHistory(), keys: map[string]*hsm.Key{}, generated: map[string]bool{}, unsynced: map[string]bool{}, certs: map[string]*x509.Certificate{}, total: len(plan.Steps) - 1}
}

func (st *State) close() {
	if st.trust != nil {
		st.trust.Close()
	}
	if st.sess != nil {
		st.sess.Close()
	}
	if st.unlockToken != nil {
		st.unlockToken()
	}
	if st.journal != nil {
		st.journal.Close()
	}
}

// journalPath is where the ceremony's journal (its transcript) lives.
func journalPath(cfg *config.Config) string {
	return filepath.Join(cfg.OutputDir(), transcript.FileName)
}

// readJournal reads how far an existing journal got, without opening it:
// the journal is opened, and a torn tail repaired, by a signed entry once
// preflight has found the transcript key. A new ceremony has no journal,
// but maybe the intent of a transcript key an interrupted start was making.
// changed reports a config that differs from the journal's where no
// finished step looked.
func (st *State) readJournal(plan *Plan) (changed bool, err error) {
	path := journalPath(st.cfg)
	if _, err := os.Stat(path); err != nil {
		return false, st.readIntentFile()
	}
	entries, err := transcript.ReadPrefix(path)
	if err != nil {
		return false, err
	}
	if st.hist, err = loadHistory(entries); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return resumable(st.hist, plan, path)
}

// preflight runs step 0 on every run. Once it passes, a new ceremony makes
// its transcript key and its journal, signed from the header on; a resumed
// one finds the key again, opens its journal and records the resume. A
// failed preflight of a new ceremony writes nothing.
func (st *State) preflight(ctx context.Context, plan *Plan, version string, configChanged bool) error {
	pre := &plan.Steps[0]
	st.at(pre, 0)
	attempt := st.hist.attempts[pre.ID] + 1
	res, started, err := st.execute(ctx, pre, attempt)
	if err != nil {
		st.journalPreflightFailure(ctx, pre, attempt, started, err)
		return err
	}
	signer, err := st.signer(ctx)
	if err == nil && st.hist.resuming {
		err = st.openJournal(ctx, started, configChanged, signer)
	} else if err == nil {
		err = st.createJournal(ctx, plan, version, signer)
	}
	if err != nil {
		// The step's name goes with it, as with every step's failure: the
		// token may fail while signing the journal's first lines.
		err = fmt.Errorf("step %s: %w", pre.ID, err)
		st.emitEvent(Event{Kind: StepFailed, Err: err})
		return err
	}
	st.listen(ctx, st.deviations)
	return st.finish(ctx, pre, attempt, started, res)
}

// journalPreflightFailure records a resumed ceremony's failed preflight, when
// the token is open so the transcript key can sign it; otherwise the failure
// is only reported, as for a new ceremony.
func (st *State) journalPreflightFailure(ctx context.Context, pre *Step, attempt int, started time.Time, stepErr error) {
	if !st.hist.resuming || st.sess == nil {
		return
	}
	signer, err := st.signer(ctx)
	if err != nil {
		return
	}
	j, _, err := transcript.Open(ctx, journalPath(st.cfg), signer)
	if err != nil {
		return
	}
	st.journal = j
	st.recordFailure(ctx, pre, attempt, started, stepErr)
}

func (st *State) createJournal(ctx context.Context, plan *Plan, version string, signer transcript.Signer) error {
	dir := st.cfg.OutputDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	if _, err := removeStaleTemps(dir); err != nil {
		return err
	}
	header, err := st.header(plan, version)
	if err != nil {
		return err
	}
	j, err := transcript.Create(ctx, journalPath(st.cfg), header, signer)
	if err != nil {
		return err
	}
	st.journal = j
	// The header names the transcript key now: its intent file has done its job.
	if err := os.Remove(st.outPath(IntentFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", IntentFile, err)
	}
	return nil
}

// openJournal opens a resumed ceremony's journal with its signer (repairing
// a torn tail with a signed entry) and records the resume.
func (st *State) openJournal(ctx context.Context, started time.Time, configChanged bool, signer transcript.Signer) error {
	j, _, err := transcript.Open(ctx, journalPath(st.cfg), signer)
	if err != nil {
		return err
	}
	st.journal = j
	return st.recordResume(ctx, started, configChanged)
}

// recordResume journals that an interrupted ceremony goes on, with the
// temporaries it cleaned up and, if the config changed where no finished
// step looked, the new file, which is the one in force from here on.
func (st *State) recordResume(ctx context.Context, started time.Time, configChanged bool) error {
	removed, err := removeStaleTemps(st.cfg.OutputDir())
	if err != nil {
		return err
	}
	facts := map[string]any{"finishedSteps": len(st.hist.done), "staleTempFilesRemoved": removed}
	var subjects []transcript.Subject
	if configChanged {
		facts["configDigest"] = st.cfg.Digest
		subjects = []transcript.Subject{transcript.NewSubject("config.yaml", "application/yaml", st.cfg.Raw)}
	}
	_, err = st.journal.Append(ctx, transcript.Entry{Kind: transcript.KindResume, Started: started,
		Results: mustJSON(facts), Subjects: subjects})
	return err
}

// runStep runs step i, or, when an earlier run finished it, finds again
// what it made so the steps after it can use it.
func (st *State) runStep(ctx context.Context, i int, step *Step) error {
	st.at(step, i)
	if st.hist.done[step.ID] {
		if err := st.restore(ctx, step); err != nil {
			err = fmt.Errorf("resume step %s: %w", step.ID, err)
			st.emitEvent(Event{Kind: StepFailed, Err: err})
			return err
		}
		st.emitEvent(Event{Kind: StepSkipped, Message: "finished in an earlier run"})
		return nil
	}
	if err := st.gate(ctx, step); err != nil {
		return err
	}
	for {
		attempt := st.hist.attempts[step.ID] + 1
		res, started, err := st.execute(ctx, step, attempt)
		if err == nil {
			return st.finish(ctx, step, attempt, started, res)
		}
		st.hist.attempts[step.ID] = attempt
		if ctx.Err() != nil {
			return err
		}
		switch st.afterFailure(ctx, step, err) {
		case Retry:
			continue
		case Skip:
			st.deviate(ctx, Deviation{Text: fmt.Sprintf("the operator skipped step %s after it failed: %v", step.ID, err)})
			st.skipped = append(st.skipped, step.ID)
			st.emitEvent(Event{Kind: StepSkipped, Message: "skipped by the operator"})
			return nil
		}
		return err
	}
}

// seal ends the ceremony: after it, the journal is never run again.
func (st *State) seal(ctx context.Context, plan *Plan) error {
	ids := make([]string, len(plan.Steps))
	for i, id := range plan.StepIDs() {
		ids[i] = string(id)
	}
	// The seal pins every byte before it: a verifier needs nothing else to
	// know the file was not cut or extended.
	lines, sum, err := st.journal.Sum()
	if err != nil {
		return err
	}
	if _, err := st.journal.Append(ctx, transcript.Entry{
		Kind: transcript.KindSeal, Started: st.now().UTC(),
		Results: mustJSON(map[string]any{"steps": ids, "skipped": st.skipped, "configDigest": st.cfg.Digest, "lines": lines, "sha256": sum}),
	}); err != nil {
		return fmt.Errorf("seal the journal: %w; every step has finished: run the same command to seal it", err)
	}
	st.at(nil, st.index)
	st.emitEvent(Event{Kind: PlanFinished, Message: "ceremony finished; transcript " + journalPath(st.cfg)})
	return nil
}

// execute runs one step: event, precondition, run. A failure is journaled
// (when there is a journal) and reported, and returned as it goes out to the
// operator.
func (st *State) execute(ctx context.Context, step *Step, attempt int) (*Result, time.Time, error) {
	st.emitEvent(Event{Kind: StepStarted})
	started := st.now().UTC()
	res, err := st.do(ctx, step)
	if err == nil {
		return res, started, nil
	}
	var problems *ProblemsError
	if !errors.As(err, &problems) {
		err = fmt.Errorf("step %s: %w", step.ID, err) // a preflight's list speaks for itself
	}
	if st.journal != nil {
		st.recordFailure(ctx, step, attempt, started, err)
	}
	st.emitEvent(Event{Kind: StepFailed, Err: err})
	return nil, started, err
}

// do checks the step's preconditions and runs it: its own run, or the
// making of what it declares.
func (st *State) do(ctx context.Context, step *Step) (*Result, error) {
	if err := st.ready(step); err != nil {
		return nil, fmt.Errorf("precondition: %w", err)
	}
	if step.run != nil {
		return step.run(ctx, st)
	}
	m, err := st.make(ctx, step)
	if err != nil {
		return nil, err
	}
	return m.result(step.summary(m), step.Keys, step.Certs), nil
}

// ready is a step's precondition: the steps it needs have finished, and
// one that uses the token has a session.
func (st *State) ready(step *Step) error {
	for _, id := range step.Needs {
		if !st.hist.done[id] {
			return fmt.Errorf("step %s has not finished", id)
		}
	}
	if step.ID != PreflightID && st.sess == nil {
		return fmt.Errorf("no logged-in token session: preflight has not run")
	}
	return nil
}

// finish journals a finished step and reports it.
func (st *State) finish(ctx context.Context, step *Step, attempt int, started time.Time, res *Result) error {
	// The entry lists the step's files: their names are durable first.
	err := st.syncWritten()
	if err == nil {
		err = st.record(ctx, step, attempt, started, res)
	}
	if err != nil {
		// The step did its work but the journal does not say so: the next
		// run finds what it made (its keys by their intents, its files on
		// disk) and records it then.
		err = fmt.Errorf("step %s: record it in the journal: %w", step.ID, err)
		st.emitEvent(Event{Kind: StepFailed, Err: err})
		return err
	}
	st.hist.done[step.ID] = true
	st.point("after-record")
	st.emitEvent(Event{Kind: StepFinished, Result: res})
	return nil
}

// resumable refuses a finished ceremony, and a config that changed what a
// finished step was run with: a step's inputs are in the journal, and a
// resumed ceremony must not contradict them. A config that changed elsewhere
// (a trust_dir that was wrong, a passphrase source) may resume; changed
// reports that, and the run records the new config.
func resumable(h *history, plan *Plan, path string) (changed bool, err error) {
	if h.sealed != nil {
		return false, fmt.Errorf("%w (%s, sealed %s); a new ceremony needs a new output directory", ErrFinished, path, h.sealedAt())
	}
	if err := keysStillDeclared(h, plan); err != nil {
		return false, err
	}
	if h.training != plan.Config.Training {
		return false, fmt.Errorf("the journal's ceremony has training: %t and the config says %t; a rehearsal cannot become a real ceremony or the reverse: restore training: %t to resume", h.training, plan.Config.Training, h.training)
	}
	if h.configDigest == plan.Config.Digest {
		return false, nil
	}
	for _, id := range h.order {
		e := h.finished[id]
		if id == PreflightID {
			continue
		}
		s := plan.step(id)
		if s == nil {
			return false, fmt.Errorf("the config changed since step %s finished, and no longer has that step; resume with the config it was run with (%s)", id, h.configDigest)
		}
		if was, now := canonicalJSON(e.Inputs), canonicalJSON(s.Inputs); was != now {
			return false, fmt.Errorf("the config changed what finished step %s was run with (%s, now %s); a finished step cannot change: restore those values to resume", id, was, now)
		}
	}
	return true, nil
}

// keysStillDeclared refuses a config that no longer declares a key the
// journal set out to make (its label changed before its step finished: the
// key would be left behind on the token), or that names another transcript
// key than the one the journal is signed with.
func keysStillDeclared(h *history, plan *Plan) error {
	declared := map[string]bool{}
	for _, k := range plan.Keys() {
		declared[k.Label] = true
	}
	if k, ok := plan.transcriptKey(); ok && h.signerLabel != "" && k.Label != h.signerLabel {
		return fmt.Errorf("the journal is signed by transcript key %q, and the config names %q; the transcript key cannot change during a ceremony: set transcript.label back to %q", h.signerLabel, k.Label, h.signerLabel)
	}
	for label := range h.intents {
		if !declared[label] {
			return fmt.Errorf("the journal set out to make key %q, which the config no longer declares; the key may be on the token: restore that label in the config to resume", label)
		}
	}
	return nil
}

// canonicalJSON renders inputs the way they read back from the journal (numbers
// as JSON numbers, keys sorted) so that the two can be compared.
func canonicalJSON(v map[string]any) string {
	b, _ := json.Marshal(v)
	var back any
	json.Unmarshal(b, &back)
	b, _ = json.Marshal(back)
	return string(b)
}

// header is the journal's first line: the tool, the config and the plan,
// and everything an auditor must know of where and by whom the ceremony ran:
// the token and its module, the transcript signer, the clock, the operator
// and the declared witnesses.
func (st *State) header(plan *Plan, version string) (transcript.Entry, error) {
	k, _ := plan.transcriptKey()
	signer, err := signerRecord(st.keys[k.Label])
	if err != nil {
		return transcript.Entry{}, err
	}
	witnesses, err := st.cfg.WitnessRecords()
	if err != nil {
		return transcript.Entry{}, err
	}
	in := map[string]any{
		"tool":         "ceremony",
		"version":      version,
		"configDigest": st.cfg.Digest,
		"kind":         plan.Kind,
		"config":       st.cfg,
		"plan":         plan.planRecord(),
		"signer":       signer,
		"token":        st.token.token,
		"module":       st.token.module,
		"clock":        clockRecord(st.now()),
		"operator":     st.cfg.Operator,
		"witnesses":    witnesses,
		"training":     st.cfg.Training,
	}
	if exe, err := os.Executable(); err == nil {
		in["binarySha256"] = fileSHA256(exe)
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		deps := map[string]string{"go": bi.GoVersion}
		for _, d := range bi.Deps {
			deps[d.Path] = d.Version
		}
		in["build"] = deps
	}
	return transcript.Entry{Kind: transcript.KindHeader, Started: st.now().UTC(), Operator: st.cfg.Operator, Inputs: in,
		Subjects: []transcript.Subject{transcript.NewSubject("config.yaml", "application/yaml", st.cfg.Raw)}}, nil
}

func (st *State) record(ctx context.Context, step *Step, attempt int, started time.Time, res *Result) error {
	facts := map[string]any{"summary": res.Summary}
	for k, v := range res.Facts {
		facts[k] = v
	}
	_, err := st.journal.Append(ctx, transcript.Entry{
		Kind:     transcript.KindStep,
		Step:     &transcript.StepRef{ID: string(step.ID), Title: step.Title, Attempt: attempt},
		Started:  started,
		Finished: st.now().UTC(),
		Inputs:   step.Inputs,
		Results:  mustJSON(facts),
		Subjects: res.Subjects,
	})
	return err
}

// recordFailure journals a failed step. Its own failure to write is not
// allowed to hide the step's error.
func (st *State) recordFailure(ctx context.Context, step *Step, attempt int, started time.Time, stepErr error) {
	// An interrupted step (Ctrl-C cancels ctx) is recorded all the same.
	_, _ = st.journal.Append(context.WithoutCancel(ctx), transcript.Entry{
		Kind:     transcript.KindFailure,
		Step:     &transcript.StepRef{ID: string(step.ID), Title: step.Title, Attempt: attempt},
		Started:  started,
		Finished: st.now().UTC(),
		Inputs:   step.Inputs,
		Error:    stepErr.Error(),
	})
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal transcript facts: %v", err)) // facts are plain data: a failure is a bug
	}
	return b
}

// removeStaleTemps deletes the temporary files an interrupted run left in the
// output directory: files are written under temporary names and linked into
// place, so such a file never is an output, only the remains of one.
func removeStaleTemps(dir string) ([]string, error) {
	removed := []string{} // [] in the journal, not null
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), newfile.TempPrefix) {
			if err := os.Remove(p); err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			removed = append(removed, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("clean the interrupted run's temporary files: %w", err)
	}
	return removed, nil
}

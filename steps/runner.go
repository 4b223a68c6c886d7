package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

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
}

// ErrFinished means the output directory holds a ceremony that already ran
// to the end: it is never run twice.
var ErrFinished = errors.New("the ceremony in this output directory has finished")

// Run executes the plan. A fresh output directory gets a new journal once
// preflight passes (so a failed preflight writes nothing); an existing journal
// of the same config is resumed after its last finished step.
func Run(ctx context.Context, plan *Plan, opts Options) (err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Hook == nil {
		opts.Hook = func(string) {}
	}
	if opts.Events == nil {
		opts.Events = func(Event) {}
	}
	defer func() {
		// Ctrl-C surfaces as "context canceled" from wherever the run was;
		// say what it means for the operator instead.
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("interrupted (%v): the journal records how far the ceremony got; run the same command to continue", ctx.Err())
		}
	}()
	cfg := plan.Config
	unlock, err := lockConfig(cfg.File)
	if err != nil {
		return err
	}
	defer unlock()
	st := &State{cfg: cfg, now: opts.Now, hook: opts.Hook, emit: opts.Events, prompter: opts.Prompter,
		intents: map[string]bool{}, done: map[string]bool{}, total: len(plan.Steps) - 1}
	defer func() {
		if st.trust != nil {
			st.trust.Close()
		}
		if st.sess != nil {
			st.sess.Close()
		}
	}()

	path := filepath.Join(cfg.OutputDir(), transcript.FileName)
	attempts := map[string]int{}
	configChanged := false
	if _, statErr := os.Stat(path); statErr == nil {
		j, entries, err := transcript.Open(ctx, path, nil)
		if err != nil {
			return err
		}
		defer j.Close()
		changed, err := resumable(entries, plan, path)
		if err != nil {
			return err
		}
		configChanged = changed
		st.journal = j
		for _, e := range entries {
			switch {
			case e.Kind == transcript.KindIntent:
				if g, ok := e.Inputs["generate"].(map[string]any); ok {
					if label, ok := g["label"].(string); ok {
						st.intents[label] = true
					}
				}
			case e.Kind == transcript.KindStep && e.Step != nil:
				st.done[e.Step.ID] = true
			}
			if e.Step != nil && (e.Kind == transcript.KindStep || e.Kind == transcript.KindFailure) {
				attempts[e.Step.ID]++
			}
		}
	}

	// Step 0: preflight, every run. Its failure is journaled only when a
	// journal exists: a failed preflight of a new ceremony writes nothing.
	pre := &plan.Steps[0]
	st.step, st.index = pre, 0
	res, started, err := st.execute(ctx, pre, attempts[pre.ID]+1)
	if err != nil {
		return err
	}
	if st.journal == nil {
		if err := os.MkdirAll(cfg.OutputDir(), 0o755); err != nil {
			return fmt.Errorf("create output directory: %w", err)
		}
		if _, err := removeStaleTemps(cfg.OutputDir()); err != nil {
			return err
		}
		j, err := transcript.Create(ctx, path, st.header(plan, opts.Version), nil)
		if err != nil {
			return err
		}
		defer j.Close()
		st.journal = j
	} else {
		removed, err := removeStaleTemps(cfg.OutputDir())
		if err != nil {
			return err
		}
		facts := map[string]any{"finishedSteps": len(st.done), "staleTempFilesRemoved": removed}
		var subjects []transcript.Subject
		if configChanged {
			// The config changed only where no finished step looked: the
			// new file is recorded, and from here on it is the one in force.
			facts["configDigest"] = cfg.Digest
			subjects = []transcript.Subject{transcript.NewSubject("config.yaml", "application/yaml", cfg.Raw)}
		}
		if _, err := st.journal.Append(ctx, transcript.Entry{Kind: transcript.KindResume, Started: started,
			Results: mustJSON(facts), Subjects: subjects}); err != nil {
			return err
		}
	}
	if err := st.finish(ctx, pre, attempts[pre.ID]+1, started, res); err != nil {
		return err
	}

	for i := 1; i < len(plan.Steps); i++ {
		step := &plan.Steps[i]
		st.step, st.index = step, i
		if st.done[step.ID] && !step.replay {
			st.emitEvent(Event{Kind: StepSkipped, Message: "finished in an earlier run"})
			continue
		}
		if st.done[step.ID] {
			// Replay to rebuild state: find the keys and files, make nothing.
			st.restoring = true
			_, err := step.run(ctx, st)
			st.restoring = false
			if err != nil {
				err = fmt.Errorf("resume step %s: %w", step.ID, err)
				st.emitEvent(Event{Kind: StepFailed, Err: err})
				return err
			}
			st.emitEvent(Event{Kind: StepSkipped, Message: "finished in an earlier run"})
			continue
		}
		res, started, err := st.execute(ctx, step, attempts[step.ID]+1)
		if err != nil {
			return err
		}
		if err := st.finish(ctx, step, attempts[step.ID]+1, started, res); err != nil {
			return err
		}
	}

	if _, err := st.journal.Append(ctx, transcript.Entry{
		Kind: transcript.KindSeal, Started: st.now().UTC(),
		Results: mustJSON(map[string]any{"steps": plan.StepIDs(), "configDigest": cfg.Digest}),
	}); err != nil {
		return err
	}
	st.step = nil
	st.emitEvent(Event{Kind: PlanFinished, Message: "ceremony finished; transcript " + path})
	return nil
}

// execute runs one step: event, precondition, run. A failure is journaled
// (when there is a journal) and reported, and returned as it goes out to the
// operator.
func (st *State) execute(ctx context.Context, step *Step, attempt int) (*Result, time.Time, error) {
	st.emitEvent(Event{Kind: StepStarted})
	started := st.now().UTC()
	var res *Result
	var err error
	if step.check != nil {
		if cerr := step.check(st); cerr != nil {
			err = fmt.Errorf("precondition: %w", cerr)
		}
	}
	if err == nil {
		res, err = step.run(ctx, st)
	}
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

// finish journals a finished step and reports it.
func (st *State) finish(ctx context.Context, step *Step, attempt int, started time.Time, res *Result) error {
	if err := st.record(ctx, step, attempt, started, res); err != nil {
		return err
	}
	st.done[step.ID] = true
	st.point("after-record")
	st.emitEvent(Event{Kind: StepFinished, Result: res})
	return nil
}

// resumable refuses a finished ceremony, and a config that changed what a
// finished step was run with: a step's inputs are in the journal, and a
// resumed ceremony must not contradict them. A config that changed elsewhere
// (a trust_dir that was wrong, a passphrase source) may resume; changed
// reports that, and the run records the new config.
func resumable(entries []transcript.Entry, plan *Plan, path string) (changed bool, err error) {
	if len(entries) == 0 || entries[0].Kind != transcript.KindHeader {
		return false, fmt.Errorf("%s has no ceremony header; it is not a journal this tool can resume", path)
	}
	current, _ := entries[0].Inputs["configDigest"].(string)
	for _, e := range entries {
		if e.Kind == transcript.KindSeal {
			return false, fmt.Errorf("%w (%s, sealed %s); a new ceremony needs a new output directory", ErrFinished, path, e.Started.Format(time.RFC3339))
		}
		if e.Kind == transcript.KindResume {
			var r struct{ ConfigDigest string }
			if json.Unmarshal(e.Results, &r) == nil && r.ConfigDigest != "" {
				current = r.ConfigDigest
			}
		}
	}
	if current == plan.Config.Digest {
		return false, nil
	}
	steps := map[string]*Step{}
	for i := range plan.Steps {
		steps[plan.Steps[i].ID] = &plan.Steps[i]
	}
	for _, e := range entries {
		if e.Kind != transcript.KindStep || e.Step == nil || e.Step.ID == "preflight" {
			continue
		}
		s, ok := steps[e.Step.ID]
		if !ok {
			return false, fmt.Errorf("the config changed since step %s finished, and no longer has that step; resume with the config it was run with (%s)", e.Step.ID, current)
		}
		if was, now := canonicalJSON(e.Inputs), canonicalJSON(s.Inputs); was != now {
			return false, fmt.Errorf("the config changed what finished step %s was run with (%s, now %s); a finished step cannot change: restore those values to resume", e.Step.ID, was, now)
		}
	}
	return true, nil
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

func (st *State) header(plan *Plan, version string) transcript.Entry {
	in := map[string]any{
		"tool":         "ceremony",
		"version":      version,
		"configDigest": st.cfg.Digest,
		"config":       st.cfg,
		"plan":         plan.planRecord(),
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
	return transcript.Entry{Kind: transcript.KindHeader, Started: st.now().UTC(), Inputs: in,
		Subjects: []transcript.Subject{transcript.NewSubject("config.yaml", "application/yaml", st.cfg.Raw)}}
}

func (st *State) record(ctx context.Context, step *Step, attempt int, started time.Time, res *Result) error {
	facts := map[string]any{"summary": res.Summary}
	for k, v := range res.Facts {
		facts[k] = v
	}
	_, err := st.journal.Append(ctx, transcript.Entry{
		Kind:     transcript.KindStep,
		Step:     &transcript.StepRef{ID: step.ID, Title: step.Title, Attempt: attempt},
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
		Step:     &transcript.StepRef{ID: step.ID, Title: step.Title, Attempt: attempt},
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
// output directory: files are written under ".tmp-" names and linked into
// place, so such a file never is an output, only the remains of one.
func removeStaleTemps(dir string) ([]string, error) {
	var removed []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), ".tmp-") {
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

// lockConfig takes an exclusive lock on the config file for the run, so a
// second process started on the same ceremony stops at once instead of
// racing the first on the token.
func lockConfig(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lock config: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another ceremony process is running the config %s; wait for it to finish", path)
		}
		return nil, fmt.Errorf("lock config %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

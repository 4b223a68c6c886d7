package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/transcript"
)

// The runner asks before it acts, without knowing who answers: the wizard
// answers from the keyboard, a headless run from its flags (Options.Ask nil:
// go ahead at every gate, stop at the first failure).

// QuestionKind says what the runner asks.
type QuestionKind int

const (
	// Confirm comes before an irreversible step: a key made, something
	// published. Only Proceed goes on.
	Confirm QuestionKind = iota
	// Failed comes after a step failed (the failure is in the journal):
	// Retry, Skip (when Question.CanSkip) or Abort.
	Failed
)

// Question is what the runner asks, with the step it is about.
type Question struct {
	Kind         QuestionKind
	Step         *Step
	Index, Total int
	Err          error // Failed: the step's error
	CanSkip      bool  // Failed: the plan allows going on without the step
	// Batch (Confirm only) lists the steps of the same kind that follow
	// Step in the plan and that the one answer covers: a thousand
	// repositories are published on one typed yes, not a thousand.
	Batch []*Step
}

// Answer is what the operator decided.
type Answer int

const (
	Proceed Answer = iota
	Retry
	Skip
	Abort
)

func (a Answer) String() string { return [...]string{"proceed", "retry", "skip", "abort"}[a] }

// ErrAborted means the operator stopped the ceremony at a gate or after a
// failure; the journal resumes it.
var ErrAborted = errors.New("stopped by the operator")

// Deviation is an exception report typed while the ceremony runs: the
// operator's or a witness's own words. It becomes a transcript entry.
type Deviation struct {
	Text string
	By   string // who reports it; "" is the operator
	// Recorded, when not nil, receives the outcome (nil once the entry is
	// durable), so the reporter knows it is on the record.
	Recorded chan<- error
}

// ask puts a question to whoever answers; a headless run proceeds at gates
// and aborts on failures.
func (st *State) ask(ctx context.Context, q Question) Answer {
	q.Index, q.Total = st.index, st.total
	for i := range st.plan.Steps {
		if &st.plan.Steps[i] == q.Step {
			q.Index = i // the transcript key's gate comes during preflight
		}
	}
	if st.answer == nil {
		if q.Kind == Confirm {
			return Proceed
		}
		return Abort
	}
	return st.answer(ctx, q)
}

// gate asks before an irreversible step. A refusal is recorded as a
// deviation, so the record says the ceremony stopped there on purpose.
func (st *State) gate(ctx context.Context, step *Step) error {
	if step == nil || !step.Irreversible || st.gated[step.ID] || st.nothingToMake(step) {
		return nil
	}
	batch := st.batch(step)
	st.gated[step.ID] = true
	if st.ask(ctx, Question{Kind: Confirm, Step: step, Batch: batch}) == Proceed {
		for _, s := range batch {
			st.gated[s.ID] = true
		}
		return nil
	}
	if st.journal == nil {
		return fmt.Errorf("%w before step %s, before the first key was made; nothing was made", ErrAborted, step.ID)
	}
	st.deviate(ctx, Deviation{Text: fmt.Sprintf("the operator stopped the ceremony before step %s (%s)", step.ID, step.Title)})
	return fmt.Errorf("%w before step %s; run the same command to continue", ErrAborted, step.ID)
}

// batch is the run of steps right after step that publish and make no key,
// and that are not finished yet: the operator confirms the publishing phase
// once, with every repository listed, rather than once per repository.
// Each key keeps a gate of its own.
func (st *State) batch(step *Step) []*Step {
	if !publishesOnly(step) {
		return nil
	}
	var out []*Step
	for i := st.plan.indexOf(step.ID) + 1; i < len(st.plan.Steps) && publishesOnly(&st.plan.Steps[i]); i++ {
		if s := &st.plan.Steps[i]; !st.hist.done[s.ID] {
			out = append(out, s)
		}
	}
	return out
}

func publishesOnly(s *Step) bool { return s.Irreversible && s.Publishes != "" && len(s.Keys) == 0 }

// nothingToMake reports a step whose keys this run already holds and that
// publishes nothing: what is left (a certificate) is not what gates guard.
// The transcript key's step, on resume, is one.
func (st *State) nothingToMake(step *Step) bool {
	if step.Publishes != "" || len(step.Keys) == 0 {
		return false
	}
	for _, k := range step.Keys {
		if st.keys[k.Label] == nil {
			return false
		}
	}
	return true
}

// afterFailure asks what to do once step failed. A wrong or locked PIN is
// not put to anyone: Retry would log in again with the same PIN source, and
// each try brings a token that locks closer to locking (tpm2-pkcs11 locks
// the whole TPM after three). The run stops; the journal resumes it.
func (st *State) afterFailure(ctx context.Context, step *Step, err error) Answer {
	if hsm.IsPINError(err) {
		return Abort
	}
	a := st.ask(ctx, Question{Kind: Failed, Step: step, Err: err, CanSkip: step.Skippable})
	if a == Skip && !step.Skippable {
		return Abort
	}
	return a
}

// deviate journals a deviation; its error goes back to the reporter.
func (st *State) deviate(ctx context.Context, d Deviation) {
	err := st.recordDeviation(ctx, d)
	if d.Recorded != nil {
		d.Recorded <- err
	}
}

func (st *State) recordDeviation(ctx context.Context, d Deviation) error {
	if st.journal == nil {
		return errors.New("no journal yet: a deviation is recorded once preflight has passed")
	}
	e := transcript.Entry{Kind: transcript.KindDeviation, Started: st.now().UTC(), Operator: d.By,
		Results: mustJSON(map[string]any{"text": d.Text})}
	if s := st.current.Load(); s != nil {
		e.Step = &transcript.StepRef{ID: string(s.ID), Title: s.Title}
	}
	_, err := st.journal.Append(context.WithoutCancel(ctx), e)
	return err
}

// listen records deviations as they come, until ctx ends; started once the
// journal exists. The journal is safe for concurrent appends, and a token
// signature is too.
func (st *State) listen(ctx context.Context, in <-chan Deviation) {
	if in == nil {
		return
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case d, ok := <-in:
				if !ok {
					return
				}
				st.deviate(ctx, d)
			}
		}
	}()
}

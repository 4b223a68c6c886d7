package ui

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	tea "charm.land/bubbletea/v2"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/steps"
)

// Job is the ceremony the wizard shows, as the command wires it: steps.Run
// and the verification of its transcript for `run`, the rehearsal for
// `demo`. It gets the engine's Options and reports through the engine.
type Job func(ctx context.Context, e *Engine) error

// Engine is the bridge between a running ceremony and the wizard. The job
// runs on its own goroutine (started by a tea.Cmd); everything it reports
// — events, questions, secret prompts, narration, the plan, the verification —
// arrives on one channel, so the model sees it in the order it happened, and
// answers go back on reply channels. The UI never touches a token or a server.
type Engine struct {
	job    Job
	ctx    context.Context
	cancel context.CancelFunc
	msgs   chan tea.Msg
	devs   chan steps.Deviation

	started atomic.Bool
	done    chan struct{} // closed when the job has returned
	err     error         // the job's, read after done
	logBuf  bytes.Buffer  // a partial narration line, until its newline
	logMu   sync.Mutex
}

// NewEngine prepares job; the wizard starts it. ctx ends the run too (a
// SIGTERM, say), as quitting the wizard does.
func NewEngine(ctx context.Context, job Job) *Engine {
	ctx, cancel := context.WithCancel(ctx)
	return &Engine{job: job, ctx: ctx, cancel: cancel, msgs: make(chan tea.Msg),
		devs: make(chan steps.Deviation, 16), done: make(chan struct{})}
}

// Messages from the engine to the model.
type (
	eventMsg    struct{ steps.Event }
	questionMsg struct {
		q     steps.Question
		reply chan<- steps.Answer
	}
	secretMsg struct {
		prompt string
		reply  chan<- secretReply
	}
	secretReply struct {
		value []byte
		err   error
	}
	narrationMsg string
	planMsg      struct{ *steps.Plan }
	verifiedMsg  struct {
		res *audit.Result
		err error
	}
	// runDoneMsg is the job's end, sent after everything it reported.
	runDoneMsg struct{ err error }
	// deviationMsg is the journal's word on a deviation the wizard sent.
	deviationMsg struct {
		text string
		err  error
	}
)

// Options wires a steps.Run to the wizard.
func (e *Engine) Options() steps.Options {
	return steps.Options{Events: e.Event, Ask: e.Ask, Prompter: e, Deviations: e.devs}
}

// Event reports a runner event.
func (e *Engine) Event(ev steps.Event) { e.send(eventMsg{ev}) }

// ShowPlan gives the wizard the plan, when the job builds it (the demo).
func (e *Engine) ShowPlan(p *steps.Plan) { e.send(planMsg{p}) }

// Verified hands the wizard the transcript's verification for the end screen.
func (e *Engine) Verified(res *audit.Result, err error) { e.send(verifiedMsg{res, err}) }

// Ask puts a runner question to the operator and waits for the answer; a
// run that ends first (quit, SIGTERM) stops where it is.
func (e *Engine) Ask(ctx context.Context, q steps.Question) steps.Answer {
	reply := make(chan steps.Answer, 1)
	if !e.send(questionMsg{q, reply}) {
		return steps.Abort
	}
	select {
	case a := <-reply:
		return a
	case <-ctx.Done():
		return steps.Abort
	case <-e.ctx.Done():
		return steps.Abort
	}
}

// Secret implements secret.Prompter with a masked field in the wizard.
func (e *Engine) Secret(ctx context.Context, prompt string) ([]byte, error) {
	reply := make(chan secretReply, 1)
	if !e.send(secretMsg{prompt, reply}) {
		return nil, e.ctx.Err()
	}
	select {
	case r := <-reply:
		return r.value, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.ctx.Done():
		return nil, e.ctx.Err()
	}
}

// Write takes narration (the rehearsal's "== …" lines) for the log pane,
// one message per complete line.
func (e *Engine) Write(p []byte) (int, error) {
	e.logMu.Lock()
	e.logBuf.Write(p)
	var lines []string
	for {
		i := bytes.IndexByte(e.logBuf.Bytes(), '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(e.logBuf.Next(i + 1)[:i]))
	}
	e.logMu.Unlock()
	for _, l := range lines {
		e.send(narrationMsg(strings.TrimRight(l, "\r")))
	}
	return len(p), nil
}

// send hands msg to the model, unless the run has been stopped and nobody
// may be reading any more.
func (e *Engine) send(msg tea.Msg) bool {
	select {
	case e.msgs <- msg:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// start is the command that runs the job; its end comes as runDoneMsg on
// the same channel as the rest, after everything the job reported.
func (e *Engine) start() tea.Cmd {
	if !e.started.CompareAndSwap(false, true) {
		return nil
	}
	return func() tea.Msg {
		err := e.job(e.ctx, e)
		e.err = err
		close(e.done)
		e.send(runDoneMsg{err})
		return nil
	}
}

// next waits for the engine's next message: re-armed after each one, as
// bubbletea's realtime example does.
func (e *Engine) next() tea.Cmd {
	return func() tea.Msg {
		select {
		case m := <-e.msgs:
			return m
		case <-e.ctx.Done():
			// Stopped: whatever is left is the run's end, once it comes.
			<-e.done
			return runDoneMsg{e.err}
		}
	}
}

// stop cancels the run (quit): the step in progress is interrupted and the
// journal stays resumable.
func (e *Engine) stop() { e.cancel() }

// deviate sends a deviation to the journal and waits for its word. Before
// the journal exists (preflight) it waits in the channel until it does.
func (e *Engine) deviate(d steps.Deviation) tea.Cmd {
	rec := make(chan error, 1)
	d.Recorded = rec
	return func() tea.Msg {
		select {
		case e.devs <- d:
		case <-e.done:
			return deviationMsg{d.Text, errors.New("the run had ended")}
		}
		select {
		case err := <-rec:
			return deviationMsg{d.Text, err}
		case <-e.done:
			return deviationMsg{d.Text, errors.New("the run ended before the journal could record it")}
		}
	}
}

// wait waits for a started job to end and returns its error.
func (e *Engine) wait() error {
	if !e.started.Load() {
		return nil
	}
	<-e.done
	return e.err
}

// Stop ends the run if it still goes (the program ended without the
// wizard's quit: a SIGTERM, a crash) and returns the job's error.
func (e *Engine) Stop() error {
	e.cancel()
	return e.wait()
}

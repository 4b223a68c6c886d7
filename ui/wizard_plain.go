package ui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ceremony-dev/ceremony/steps"
)

// PlainAsk answers the runner's questions in plain lines, for --plain (a
// screen reader, a serial console): no full-screen program, the same
// questions as the wizard's. A gate says what the step will do and goes on
// only on "yes" typed out; a failure asks retry, skip (where the plan
// allows) or abort. Answers are read from in, one per line; the end of in
// stops the ceremony where it is. At any question, d records a deviation
// through devs (the runner's Options.Deviations), when devs is not nil.
func PlainAsk(in io.Reader, out io.Writer, devs chan<- steps.Deviation) func(context.Context, steps.Question) steps.Answer {
	// A line is read only when a question wants one: read ahead, stdin
	// would take what the operator types at the next masked prompt, which
	// reads the same terminal.
	want, lines := make(chan struct{}), make(chan string)
	var start sync.Once
	read := func() {
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(in)
			for range want {
				if !sc.Scan() {
					return
				}
				lines <- strings.TrimSpace(sc.Text())
			}
		}()
	}
	// next waits for a line; ok is false at the end of input or of the run.
	next := func(ctx context.Context) (string, bool) {
		start.Do(read)
		select {
		case want <- struct{}{}:
		case <-lines: // the reader has ended: the input is over
			return "", false
		case <-ctx.Done():
			return "", false
		}
		select {
		case l, ok := <-lines:
			return l, ok
		case <-ctx.Done():
			return "", false
		}
	}
	// answer reads the next answer to the question prompt asks; d takes a
	// deviation first, then asks again.
	answer := func(ctx context.Context, prompt string) (string, bool) {
		for {
			l, ok := next(ctx)
			if !ok || devs == nil || (l != "d" && l != "deviation") {
				return l, ok
			}
			if !plainDeviation(ctx, out, devs, next) {
				return "", false
			}
			fmt.Fprint(out, prompt)
		}
	}
	return func(ctx context.Context, q steps.Question) steps.Answer {
		if q.Kind == steps.Confirm {
			return plainGate(ctx, out, q, answer)
		}
		return plainFailure(ctx, out, q, answer)
	}
}

// plainDeviation asks what happened and who reports it, and waits until
// the entry is on the record; false when the input ended.
func plainDeviation(ctx context.Context, out io.Writer, devs chan<- steps.Deviation, next func(context.Context) (string, bool)) bool {
	fmt.Fprint(out, "Deviation: what happened? ")
	text, ok := next(ctx)
	if !ok {
		return false
	}
	fmt.Fprint(out, "Reported by (Enter: the operator): ")
	by, ok := next(ctx)
	if !ok {
		return false
	}
	d, err := newDeviation(text, by)
	if err != nil {
		fmt.Fprintf(out, "Deviation not recorded: %v\n", err)
		return true
	}
	recorded := make(chan error, 1)
	d.Recorded = recorded
	select {
	case devs <- d:
	case <-time.After(2 * time.Second):
		// Nobody listens before the journal exists.
		fmt.Fprintln(out, "Deviation not recorded: a deviation is recorded once preflight has passed")
		return true
	}
	select {
	case err := <-recorded:
		if err != nil {
			fmt.Fprintf(out, "Deviation NOT recorded: %v\n", err)
		} else {
			fmt.Fprintf(out, "Deviation by %s recorded in the transcript.\n", reporter(d))
		}
	case <-ctx.Done():
		return false
	}
	return true
}

func plainGate(ctx context.Context, out io.Writer, q steps.Question, next func(context.Context, string) (string, bool)) steps.Answer {
	switch {
	case len(q.Batch) > 0:
		fmt.Fprintf(out, "\nSteps %d to %d of %d publish to the Notary server. They will:\n", q.Index, q.Index+len(q.Batch), q.Total)
	case signsTranscript(q.Step):
		// Asked during preflight: the key is made before step 1.
		fmt.Fprintf(out, "\nBefore step 1: the transcript key, irreversible. %s It will:\n", earlyWhy(q.Index))
		q.Step = earlyStep(q.Step, q.Index)
	default:
		fmt.Fprintf(out, "\nStep %d of %d, %s, is irreversible. It will:\n", q.Index, q.Total, q.Step.Title)
	}
	for _, a := range gateActions(q, 12) {
		fmt.Fprintf(out, "  - %s\n", a)
	}
	ask := "Type yes to go on, no to stop here, or d to record a deviation: "
	fmt.Fprint(out, ask)
	for {
		l, ok := next(ctx, ask)
		switch {
		case !ok:
			fmt.Fprintln(out)
			return steps.Abort
		case l == "yes":
			return steps.Proceed
		case l == "no" || l == "stop":
			return steps.Abort
		}
		fmt.Fprint(out, "Only yes goes on; no stops here: ")
	}
}

func plainFailure(ctx context.Context, out io.Writer, q steps.Question, next func(context.Context, string) (string, bool)) steps.Answer {
	first, _, _ := strings.Cut(stepError(q.Step, q.Err), "\n")
	fmt.Fprintf(out, "\nStep %d of %d, %s, failed: %s\n", q.Index, q.Total, q.Step.Title, first)
	fmt.Fprintln(out, "Nothing is lost: the journal keeps every finished step. Fix the cause, then retry.")
	choices := map[string]steps.Answer{"retry": steps.Retry, "r": steps.Retry, "abort": steps.Abort, "a": steps.Abort}
	ask := "Type retry or abort: "
	if q.CanSkip {
		choices["skip"], choices["s"] = steps.Skip, steps.Skip
		ask = "Type retry, skip (it can be added later) or abort: "
	}
	for {
		fmt.Fprint(out, ask)
		l, ok := next(ctx, ask)
		if !ok {
			fmt.Fprintln(out)
			return steps.Abort
		}
		if a, ok := choices[strings.ToLower(l)]; ok {
			return a
		}
	}
}

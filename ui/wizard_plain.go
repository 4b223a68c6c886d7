package ui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/ceremony-dev/ceremony/steps"
)

// PlainAsk answers the runner's questions in plain lines, for --plain (a
// screen reader, a serial console): no full-screen program, the same
// questions as the wizard's. A gate says what the step will do and goes on
// only on "yes" typed out; a failure asks retry, skip (where the plan
// allows) or abort. Answers are read from in, one per line; the end of in
// stops the ceremony where it is.
func PlainAsk(in io.Reader, out io.Writer) func(context.Context, steps.Question) steps.Answer {
	lines := make(chan string)
	var start sync.Once
	read := func() {
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(in)
			for sc.Scan() {
				lines <- strings.TrimSpace(sc.Text())
			}
		}()
	}
	// next waits for a line; ok is false at the end of input or of the run.
	next := func(ctx context.Context) (string, bool) {
		start.Do(read)
		select {
		case l, ok := <-lines:
			return l, ok
		case <-ctx.Done():
			return "", false
		}
	}
	return func(ctx context.Context, q steps.Question) steps.Answer {
		if q.Kind == steps.Confirm {
			return plainGate(ctx, out, q, next)
		}
		return plainFailure(ctx, out, q, next)
	}
}

func plainGate(ctx context.Context, out io.Writer, q steps.Question, next func(context.Context) (string, bool)) steps.Answer {
	fmt.Fprintf(out, "\nStep %d of %d, %s, is irreversible. It will:\n", q.Index, q.Total, q.Step.Title)
	for _, a := range actions(q.Step) {
		fmt.Fprintf(out, "  - %s\n", a)
	}
	fmt.Fprint(out, "Type yes to go on, or no to stop here: ")
	for {
		l, ok := next(ctx)
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

func plainFailure(ctx context.Context, out io.Writer, q steps.Question, next func(context.Context) (string, bool)) steps.Answer {
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
		l, ok := next(ctx)
		if !ok {
			fmt.Fprintln(out)
			return steps.Abort
		}
		if a, ok := choices[strings.ToLower(l)]; ok {
			return a
		}
	}
}

package ui

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/steps"
)

func TestPrinter(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 2, 3, 0, time.UTC)
	tests := []struct {
		ev   steps.Event
		want string
	}{
		{steps.Event{Kind: steps.StepStarted, Index: 1, Total: 3, Title: "Create the CA"}, "10:02:03 [1/3] Create the CA …\n"},
		{steps.Event{Kind: steps.StepProgress, Index: 1, Total: 3, Message: "generating… 2s"}, "10:02:03         generating… 2s\n"},
		{steps.Event{Kind: steps.StepFinished, Index: 1, Total: 3, Title: "Create the CA", Result: &steps.Result{Summary: "CA key \"ca\""}},
			"10:02:03 [1/3] Create the CA done: CA key \"ca\"\n"},
		{steps.Event{Kind: steps.StepSkipped, Index: 2, Total: 3, Title: "Create the root key", Message: "finished in an earlier run"},
			"10:02:03 [2/3] Create the root key already done (finished in an earlier run)\n"},
		// A multi-line error (a preflight's list) shows its first line here;
		// the command prints the whole error once, at the end.
		{steps.Event{Kind: steps.StepFailed, Index: 0, Total: 3, Title: "Preflight", Err: errors.New("preflight found 2 problems:\n  - a\n  - b")},
			"10:02:03 [0/3] Preflight FAILED: preflight found 2 problems:\n"},
		{steps.Event{Kind: steps.PlanFinished, Message: "ceremony finished"}, "10:02:03 ceremony finished\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		tc.ev.Time = at
		Printer(&b)(tc.ev)
		if b.String() != tc.want {
			t.Errorf("%v: got %q, want %q", tc.ev.Kind, b.String(), tc.want)
		}
		if strings.Count(b.String(), "\n") != 1 {
			t.Errorf("%v: not one line", tc.ev.Kind)
		}
	}
}

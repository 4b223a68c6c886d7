// Package ui shows a ceremony to people: the plain-text printer of headless
// runs (and, later, the terminal wizard). It only watches steps' events; it
// never touches a token or a server.
package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/ceremony-dev/ceremony/steps"
)

// Printer writes one line per event, for logs and for an operator watching a
// headless run. Progress lines are indented under their step.
func Printer(w io.Writer) func(steps.Event) {
	return func(e steps.Event) {
		stamp := e.Time.UTC().Format("15:04:05")
		tag := fmt.Sprintf("[%d/%d]", e.Index, e.Total)
		switch e.Kind {
		case steps.StepStarted:
			fmt.Fprintf(w, "%s %s %s …\n", stamp, tag, e.Title)
		case steps.StepProgress:
			fmt.Fprintf(w, "%s         %s\n", stamp, e.Message)
		case steps.StepFinished:
			summary := ""
			if e.Result != nil {
				summary = ": " + e.Result.Summary
			}
			fmt.Fprintf(w, "%s %s %s done%s\n", stamp, tag, e.Title, summary)
		case steps.StepSkipped:
			fmt.Fprintf(w, "%s %s %s already done (%s)\n", stamp, tag, e.Title, e.Message)
		case steps.StepFailed:
			first, _, _ := strings.Cut(e.Err.Error(), "\n")
			fmt.Fprintf(w, "%s %s %s FAILED: %s\n", stamp, tag, e.Title, first)
		case steps.PlanFinished:
			fmt.Fprintf(w, "%s %s\n", stamp, e.Message)
		}
	}
}

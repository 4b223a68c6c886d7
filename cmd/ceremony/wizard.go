package main

import (
	"context"
	"fmt"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/ui"
)

// onTerminal reports whether the wizard can take the screen: stdin and
// stdout are both terminals. Otherwise commands print lines, as in a pipe.
func onTerminal() bool {
	return term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd()))
}

// showWizard runs job in the full-screen wizard and returns the job's
// error once both have ended. The alternate screen goes away with the
// program, so what must stay on the terminal — how it ended, how to go on —
// is printed after it.
func showWizard(ctx context.Context, stdout io.Writer, opts ui.WizardOptions, job ui.Job) error {
	engine := ui.NewEngine(ctx, job)
	p := tea.NewProgram(ui.NewWizard(engine, opts), tea.WithContext(ctx), tea.WithOutput(stdout))
	_, progErr := p.Run()
	// The program may end first (SIGTERM): the run is cancelled and waited
	// for, so the journal is closed whole before the process exits.
	err := engine.Stop()
	if err == nil && progErr != nil && ctx.Err() == nil {
		err = fmt.Errorf("the wizard: %w", progErr)
	}
	if err != nil && opts.ResumeHint != "" {
		fmt.Fprintf(stdout, "To continue: %s\n", opts.ResumeHint)
	}
	return err
}

// printOutcome leaves the end screen's verdict on the terminal.
func printOutcome(w io.Writer, res *audit.Result) {
	if res != nil {
		fmt.Fprintf(w, "Ceremony complete. Transcript %s\n%s\n", res.Transcript, ui.Verdict(res))
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/ui"
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	var cfgPath, out, format string
	var nonInteractive, showPlan, plain bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the ceremony a config describes: the wizard on a terminal, lines with --plain, headless with --non-interactive",
		Long: "Run the ceremony described by --config. On a terminal it opens the wizard: the script, the current step,\n" +
			"a typed yes before each irreversible step, masked secret prompts. --plain asks the same questions in plain\n" +
			"lines (screen readers); --non-interactive prints each step as it goes, asks nothing and reads secrets only\n" +
			"from env: and file: sources. Re-running with the same config resumes an interrupted ceremony.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				// On a terminal the config forms build the config (forms.go);
				// the file they write then runs exactly as --config would.
				if nonInteractive || showPlan || !formsTerminal(cmd) {
					return &exitError{code: 2, err: fmt.Errorf("--config is required unless stdin and stdout are a terminal, where the config forms build one")}
				}
				var err error
				if cfgPath, err = configForms(cmd, plain, nil); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("format") && !showPlan {
				return &exitError{code: 2, err: fmt.Errorf("--format applies to --plan only")}
			}
			if !slices.Contains(ui.PlanFormats, format) {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: use one of %s", format, strings.Join(ui.PlanFormats, ", "))}
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			if out != "" {
				// --out is a command-line path: relative to where the operator is.
				if cfg.Output, err = filepath.Abs(out); err != nil {
					return err
				}
			}
			plan := steps.NewPlan(cfg)
			if showPlan {
				return ui.WritePlan(cmd.OutOrStdout(), plan, format)
			}
			return runPlan(cmd, plan, runMode(nonInteractive, plain), cfgPath, resumeCommand(cfgPath, out))
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "ceremony config (YAML)")
	cmd.Flags().StringVar(&out, "out", "", "output directory (overrides the config's output)")
	cmd.Flags().BoolVar(&nonInteractive, "non-interactive", false, "no prompts: secrets from env: and file: sources only")
	cmd.Flags().BoolVar(&plain, "plain", false, "no full-screen wizard: events as lines, questions and secrets asked line by line")
	cmd.Flags().BoolVar(&showPlan, "plan", false, "print the plan (the script witnesses follow) and exit")
	cmd.Flags().StringVar(&format, "format", "text", "with --plan: "+strings.Join(ui.PlanFormats, ", "))
	return cmd
}

// mode is how a run meets its operator.
type mode int

const (
	modeHeadless mode = iota // --non-interactive: no questions, no prompts
	modeLines                // not on a terminal: lines, masked prompts on /dev/tty, no questions
	modePlain                // --plain: lines, and the questions asked line by line
	modeWizard               // a terminal: the full-screen wizard
)

func runMode(nonInteractive, plain bool) mode {
	switch {
	case nonInteractive:
		return modeHeadless
	case plain:
		return modePlain
	case onTerminal():
		return modeWizard
	}
	return modeLines
}

// runPlan runs a ceremony's plan in mode; the wizard verifies the finished
// transcript for its end screen.
func runPlan(cmd *cobra.Command, plan *steps.Plan, m mode, cfgPath, resume string) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	opts := steps.Options{Events: events(out), Hook: testHook(), Version: version}
	switch m {
	case modeLines:
		opts.Prompter = secret.Terminal{}
	case modePlain:
		devs := make(chan steps.Deviation)
		opts.Prompter, opts.Ask, opts.Deviations = secret.Terminal{}, ui.PlainAsk(cmd.InOrStdin(), out, devs), devs
	case modeWizard:
		var res *audit.Result
		title := "ceremony run · " + filepath.Base(cfgPath)
		if plan.Config.Training {
			title += " · TRAINING"
		}
		err := showWizard(ctx, out, ui.WizardOptions{Title: title, Plan: plan, ResumeHint: resume},
			func(ctx context.Context, e *ui.Engine) error {
				o := e.Options()
				o.Hook, o.Version = testHook(), version
				if err := steps.Run(ctx, plan, o); err != nil {
					return err
				}
				var err error
				res, err = audit.VerifyOutput(ctx, plan.Config.OutputDir())
				e.Verified(res, err)
				if err == nil && !res.OK {
					err = fmt.Errorf("the transcript does not verify: %s", ui.FailureLine(res.Failure))
				}
				return err
			})
		if err == nil {
			printOutcome(out, res)
		}
		return err
	}
	return steps.Run(ctx, plan, opts)
}

// events prints a run's events as lines on out. A preflight's problems go
// whole to stderr as the command's error, count and list together; out says
// where, rather than the list's head line alone ("preflight found 2
// problems:"). Only preflight's: it ends the run at once, so stderr gets the
// list straight away, while a later step's failure is asked about (retry,
// skip) before the command ends, and is printed whole here.
func events(out io.Writer) func(steps.Event) {
	print := ui.Printer(out)
	return func(e steps.Event) {
		if e.Kind == steps.StepFailed && e.StepID == steps.PreflightID && e.Err != nil && strings.Contains(e.Err.Error(), "\n") {
			e.Err = onStderr(e.Err)
		}
		print(e)
	}
}

// onStderr is what out says of a failure of several lines.
func onStderr(err error) error {
	var many interface{ Unwrap() []error }
	if errors.As(err, &many) && len(many.Unwrap()) > 1 {
		return errors.New("the problems are listed on stderr")
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	return fmt.Errorf("%s (in full on stderr)", strings.TrimSuffix(first, ":"))
}

// resumeCommand is the command line that continues an interrupted run.
func resumeCommand(cfgPath, out string) string {
	c := "ceremony run --config " + cfgPath
	if out != "" {
		c += " --out " + out
	}
	return c
}

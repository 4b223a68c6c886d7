package main

import (
	"context"
	"fmt"
	"os"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/internal/rehearsal"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/ui"
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	var out string
	var nonInteractive, plain bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Rehearse the whole ceremony on a scratch SoftHSM2 token and a local notary-server",
		Long: "Make a scratch SoftHSM2 token, start a local notary-server and an in-process registry, run the ceremony\n" +
			"(preflight, CA, root key, repository certificate, notary init, snapshot rotation, delegation), then sign an image\n" +
			"as the delegate and validate it. Nothing touches a real HSM or server. On a terminal it runs in the wizard: an\n" +
			"audience follows with Enter and yes alone. --non-interactive runs headless; --out keeps everything for inspection.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdout := cmd.OutOrStdout()
			keep := out != ""
			if !keep {
				dir, err := os.MkdirTemp("", "ceremony-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				out = dir
			}
			o := rehearsal.Options{Dir: out, Out: stdout, Events: events(stdout), Version: version}
			var err error
			switch runMode(nonInteractive, plain) {
			case modePlain:
				devs := make(chan steps.Deviation)
				o.Ask, o.Prompter, o.Deviations = ui.PlainAsk(cmd.InOrStdin(), stdout, devs), secret.Terminal{}, devs
				err = rehearsal.Run(cmd.Context(), o)
			case modeWizard:
				err = demoWizard(cmd.Context(), cmd, o)
			default:
				err = rehearsal.Run(cmd.Context(), o)
			}
			if err == nil && !keep {
				fmt.Fprintln(stdout, "   (a temporary directory, removed now: keep the files with --out DIR)")
			}
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "keep the rehearsal's files in this new directory")
	cmd.Flags().BoolVar(&nonInteractive, "non-interactive", false, "run headless: no wizard, no questions")
	cmd.Flags().BoolVar(&plain, "plain", false, "no full-screen wizard: events as lines, questions asked line by line")
	return cmd
}

// demoWizard runs the rehearsal in the wizard: its narration goes to the
// log, its plan to the script once built, its verification to the end.
func demoWizard(ctx context.Context, cmd *cobra.Command, o rehearsal.Options) error {
	var res *audit.Result
	opts := ui.WizardOptions{Title: "ceremony demo · TRAINING",
		ResumeHint: "ceremony demo --out NEW-DIR (a rehearsal starts again on fresh components)"}
	err := showWizard(ctx, cmd.OutOrStdout(), opts, func(ctx context.Context, e *ui.Engine) error {
		so := e.Options()
		o.Out, o.Events, o.Ask, o.Prompter, o.Deviations = e, so.Events, so.Ask, so.Prompter, so.Deviations
		o.Plan = e.ShowPlan
		o.Verified = func(r *audit.Result, err error) {
			res = r
			e.Verified(r, err)
		}
		return rehearsal.Run(ctx, o)
	})
	if err == nil {
		printOutcome(cmd.OutOrStdout(), res)
	}
	return err
}

package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/ui"
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	var cfgPath, out, format string
	var nonInteractive, showPlan bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the ceremony a config describes (headless with --non-interactive)",
		Long: "Run the ceremony described by --config. With --non-interactive it prints each step as it goes and reads\n" +
			"secrets only from env: and file: sources. Re-running with the same config resumes an interrupted ceremony.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfgPath == "" {
				return &exitError{code: 2, err: fmt.Errorf("--config is required: the interactive wizard is not built yet")}
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
			// Until the wizard exists, an interactive run is the headless run
			// with masked prompts for "prompt" secret sources.
			var prompter secret.Prompter
			if !nonInteractive {
				prompter = secret.Terminal{}
			}
			return steps.Run(cmd.Context(), plan, steps.Options{
				Events:   ui.Printer(cmd.OutOrStdout()),
				Prompter: prompter,
				Hook:     testHook(),
				Version:  version,
			})
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "ceremony config (YAML)")
	cmd.Flags().StringVar(&out, "out", "", "output directory (overrides the config's output)")
	cmd.Flags().BoolVar(&nonInteractive, "non-interactive", false, "no prompts: secrets from env: and file: sources only")
	cmd.Flags().BoolVar(&showPlan, "plan", false, "print the plan (the script witnesses follow) and exit")
	cmd.Flags().StringVar(&format, "format", "text", "with --plan: "+strings.Join(ui.PlanFormats, ", "))
	return cmd
}

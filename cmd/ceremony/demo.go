package main

import (
	"fmt"
	"os"

	"github.com/ceremony-dev/ceremony/internal/rehearsal"
	"github.com/ceremony-dev/ceremony/ui"
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	var out string
	var nonInteractive bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Rehearse the whole ceremony on a scratch SoftHSM2 token and a local notary-server",
		Long: "Make a scratch SoftHSM2 token, start a local notary-server and an in-process registry, run the ceremony\n" +
			"(preflight, CA, root key, repository certificate, notary init, snapshot rotation, delegation), then sign an image\n" +
			"as the delegate and validate it. Nothing touches a real HSM or server. --out keeps everything for inspection.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keep := out != ""
			if !keep {
				dir, err := os.MkdirTemp("", "ceremony-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				out = dir
			}
			err := rehearsal.Run(cmd.Context(), rehearsal.Options{
				Dir: out, Out: cmd.OutOrStdout(), Events: ui.Printer(cmd.OutOrStdout()), Version: version,
			})
			if err == nil && !keep {
				fmt.Fprintln(cmd.OutOrStdout(), "   (a temporary directory, removed now: keep the files with --out DIR)")
			}
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "keep the rehearsal's files in this new directory")
	cmd.Flags().BoolVar(&nonInteractive, "non-interactive", false, "run headless (the only mode until the wizard exists)")
	return cmd
}

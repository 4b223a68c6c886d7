package main

import (
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/ui"
)

func newReplayCmd() *cobra.Command {
	var caPath string
	var plain bool
	cmd := &cobra.Command{
		Use:   "replay TRANSCRIPT [--ca ca.pem]",
		Short: "Step through a finished ceremony read-only, from its transcript",
		Long: "Show the ceremony a transcript records in the wizard's layout: the script on the left, the selected step on\n" +
			"the right with its recorded inputs, results, keys and certificates (fingerprints in groups of four hex\n" +
			"digits), failures, retries, resumes and deviations. With --ca the transcript is verified first, as\n" +
			"`ceremony verify` does, and every line shows whether it verified; without it the replay says, on every\n" +
			"screen, that nothing is verified. Keys: ←/→ or n/p (and ↑/↓, home/end) move, pgup/pgdn scroll, q quits.\n" +
			"--plain (or output that is not a terminal) prints the same as lines. Exit 1 when verification fails.",
		Args: fileArgs("replay", 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := replayResult(cmd, args[0], caPath)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if plain || !interactive(cmd) {
				if err := ui.PrintReplay(cmd.OutOrStdout(), res, caPath); err != nil {
					return err
				}
			} else if _, err := tea.NewProgram(ui.NewReplay(res, ui.ReplayOptions{CA: caPath}), tea.WithContext(cmd.Context())).Run(); err != nil {
				return err
			}
			if !res.OK && !(res.Unanchored && res.Failure == nil) {
				return fmt.Errorf("%s does not verify: %s", args[0], ui.FailureLine(res.Failure))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&caPath, "ca", "", "the ceremony CA certificate (PEM) you trust: verify every line against it")
	cmd.Flags().BoolVar(&plain, "plain", false, "print the replay as lines: no full-screen program (screen readers, pipes)")
	return cmd
}

// replayResult verifies the transcript against the CA, or only reads it
// when no CA is given.
func replayResult(cmd *cobra.Command, path, caPath string) (*audit.Result, error) {
	if caPath == "" {
		return audit.Read(cmd.Context(), path)
	}
	opts, err := verifyOptions(caPath, "", 0)
	if err != nil {
		return nil, err
	}
	return audit.Verify(cmd.Context(), path, opts)
}

// interactive: the full-screen replay needs a terminal on both ends.
func interactive(cmd *cobra.Command) bool {
	return cmd.OutOrStdout() == os.Stdout && cmd.InOrStdin() == os.Stdin &&
		term.IsTerminal(int(os.Stdout.Fd())) && term.IsTerminal(int(os.Stdin.Fd()))
}

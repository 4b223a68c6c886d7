// Command ceremony runs a Docker Content Trust root key ceremony on a PKCS#11
// token. This file wires subcommands to the packages that do the work.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/ceremony-dev/ceremony/trust"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// notary's library logs to stderr through a process-wide logger; the
	// ceremony reports for itself.
	trust.SetNotaryLog(io.Discard, false)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run executes one command line and returns the exit status; every failure is
// reported as one line on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "ceremony: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra reports a missing required flag, a stray argument and a wrong
	// argument count as plain errors: usage mistakes all the same.
	for _, usage := range []string{"required flag(s)", "unknown command", "accepts "} {
		if strings.HasPrefix(err.Error(), usage) {
			return 2
		}
	}
	return 1
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "ceremony",
		Short:         "Run a Docker Content Trust root key ceremony on a PKCS#11 token",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	var notaryLog string
	root.PersistentFlags().StringVar(&notaryLog, "notary-log", "", "append the notary library's debug log to FILE (it explains rejected trust pins, for one)")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if notaryLog == "" {
			return nil
		}
		f, err := os.OpenFile(notaryLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("--notary-log: %w", err)
		}
		// Left open for the process's life: the notary logger is process-wide.
		trust.SetNotaryLog(f, true)
		return nil
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: 2, err: err}
	})
	run := newRunCmd()
	// `ceremony` alone on a terminal is the wizard: `ceremony run` without a
	// config, whose forms build one. Elsewhere it prints the help.
	root.Args = cobra.NoArgs
	root.RunE = func(cmd *cobra.Command, _ []string) error {
		if !onTerminal() {
			return cmd.Help()
		}
		run.SetContext(cmd.Context())
		return run.RunE(run, nil)
	}
	root.AddCommand(run, newDemoCmd(), newSignCmd(), newValidateCmd(), newVerifyCmd(), newReportCmd(), newHSMCmd(), newWitnessCmd(), newReplayCmd(), newVersionCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the build's module versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "ceremony %s\n", version)
			if bi, ok := debug.ReadBuildInfo(); ok {
				fmt.Fprintf(out, "go %s\n", bi.GoVersion)
				for _, d := range bi.Deps {
					if d.Path == "github.com/miekg/pkcs11" || d.Path == "github.com/theupdateframework/notary" {
						fmt.Fprintf(out, "%s %s\n", d.Path, d.Version)
					}
				}
			}
			return nil
		},
	}
}

package main

import (
	"fmt"
	"strings"

	"github.com/ceremony-dev/ceremony/internal/infile"
	"github.com/spf13/cobra"
)

// maxInput bounds an input file the command itself reads (a CA
// certificate, a manifest, a key file): each is a few KiB.
const maxInput = 1 << 20

// fileArgs is the Args check of a command that takes n transcript files:
// the count, then each a regular file, before anything else runs (a FIFO
// would block and /dev/zero would be read until memory ran out).
func fileArgs(name string, n int) cobra.PositionalArgs {
	what := map[int]string{1: "one transcript file", 2: "two transcript files"}[n]
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return &exitError{code: 2, err: fmt.Errorf("%s takes %s, got %d arguments", name, what, len(args))}
		}
		for _, a := range args {
			if err := infile.Check(a); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("%s: %w", strings.Fields(what)[1], err)}
			}
		}
		return nil
	}
}

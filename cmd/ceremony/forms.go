package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/ui"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// formsTerminal reports whether the config forms can run: stdin and stdout
// are the process's own and both are terminals.
func formsTerminal(cmd *cobra.Command) bool {
	out, ok := cmd.OutOrStdout().(*os.File)
	in, ok2 := cmd.InOrStdin().(*os.File)
	return ok && ok2 && term.IsTerminal(int(out.Fd())) && term.IsTerminal(int(in.Fd()))
}

// configForms runs the config forms (ui.RunForms) where the operator is,
// starting from start (nil: the seed's defaults), and returns the path of
// the config they wrote and confirmed with a typed yes; `run` then loads it
// exactly as --config would.
func configForms(cmd *cobra.Command, plain bool, start *config.Config) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	path, err := ui.RunForms(cmd.Context(), ui.FormsOptions{Start: start, Dir: dir, Tokens: listTokenChoices, Plain: plain,
		In: cmd.InOrStdin(), Out: cmd.OutOrStdout()})
	if errors.Is(err, ui.ErrFormsStopped) {
		if path != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "The config is kept in %s; run it with: ceremony run --config %s\n", path, path)
		}
		return "", &exitError{code: 1, err: err}
	}
	return path, err
}

// listTokenChoices lists the initialised tokens the module at path shows,
// as plain values for the forms (the forms never touch a token).
func listTokenChoices(ctx context.Context, module string) ([]ui.TokenChoice, error) {
	mod, err := hsm.Open(module)
	if err != nil {
		return nil, err
	}
	defer mod.Close()
	tokens, err := mod.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	var out []ui.TokenChoice
	for _, t := range tokens {
		if !t.Initialized() {
			continue
		}
		out = append(out, ui.TokenChoice{Slot: t.SlotID, Label: t.Label, Serial: t.Serial, Manufacturer: t.Manufacturer, Model: t.Model})
	}
	return out, nil
}

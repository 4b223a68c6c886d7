package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/ui"
	"github.com/spf13/cobra"
)

func newHSMCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "hsm", Short: "Inspect PKCS#11 modules and tokens"}
	var module, token, pin string
	list := &cobra.Command{
		Use:   "list",
		Short: "List slots, tokens and objects (the seed's `ucl list`)",
		Long: "List the module's slots and tokens and, for each token (or the one --token names), its objects.\n" +
			"Without --pin only public objects show; with --pin SOURCE (env:NAME, file:PATH or prompt) private keys show too.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return hsmList(cmd.Context(), cmd.OutOrStdout(), module, token, pin)
		},
	}
	list.Flags().StringVar(&module, "module", config.DefaultModule, "PKCS#11 library")
	list.Flags().StringVar(&token, "token", "", "only this token (by label)")
	list.Flags().StringVar(&pin, "pin", "", "log in with the PIN from SOURCE: env:NAME, file:PATH or prompt (needs --token)")
	cmd.AddCommand(list)
	return cmd
}

func hsmList(ctx context.Context, out io.Writer, module, token, pinSource string) error {
	var src secret.Source
	if pinSource != "" {
		if token == "" {
			return fmt.Errorf("--pin needs --token: name the token to log in to")
		}
		var err error
		if src, err = secret.Parse(pinSource); err != nil {
			return err
		}
	}
	mod, err := hsm.Open(module)
	if err != nil {
		return err
	}
	defer mod.Close()
	info, err := mod.Info()
	if err != nil {
		return err
	}
	ui.Module(out, mod.Path(), info)
	var tokens []hsm.TokenInfo
	if token != "" {
		t, err := mod.FindToken(ctx, hsm.TokenSelector{Label: token})
		if err != nil {
			return err
		}
		tokens = []hsm.TokenInfo{t}
	} else if tokens, err = mod.Tokens(ctx); err != nil {
		return err
	}
	for _, t := range tokens {
		if !ui.Token(out, t) {
			continue
		}
		objs, err := tokenObjects(ctx, mod, t, src, pinSource != "")
		if err != nil {
			return err
		}
		if err := ui.Objects(out, objs, pinSource != ""); err != nil {
			return err
		}
	}
	return nil
}

// tokenObjects lists a token's objects, logged in when login is set.
func tokenObjects(ctx context.Context, mod *hsm.Module, t hsm.TokenInfo, src secret.Source, login bool) ([]hsm.Object, error) {
	sel := hsm.TokenSelector{Label: t.Label, Serial: t.Serial}
	var s *hsm.Session
	var err error
	if login {
		s, err = hsm.Connect(ctx, mod.Path(), sel, src.Reader(secret.PINPrompt(t.Label), secret.Terminal{}))
	} else {
		s, err = mod.OpenSession(ctx, sel)
	}
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Objects(ctx)
}

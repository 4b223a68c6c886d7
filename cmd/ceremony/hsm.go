package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/secret"
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
	list.Flags().StringVar(&module, "module", hsm.DefaultModule, "PKCS#11 library")
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
	fmt.Fprintf(out, "Module %s: %s %s (library %s, Cryptoki %s)\n", mod.Path(), info.Manufacturer, info.Description, info.LibraryVersion, info.Cryptoki)

	tokens, err := mod.Tokens(ctx)
	if err != nil {
		return err
	}
	if token != "" {
		t, err := mod.FindToken(ctx, hsm.TokenSelector{Label: token})
		if err != nil {
			return err
		}
		tokens = []hsm.TokenInfo{t}
	}
	for _, t := range tokens {
		if t.Err != nil {
			fmt.Fprintf(out, "\nSlot %d: unreadable: %v\n", t.SlotID, t.Err)
			continue
		}
		if !t.Initialized() {
			fmt.Fprintf(out, "\nSlot %d: uninitialised token\n", t.SlotID)
			continue
		}
		fmt.Fprintf(out, "\nSlot %d: token %q  %s %s  serial %s  firmware %s\n  flags: %s\n",
			t.SlotID, t.Label, t.Manufacturer, t.Model, t.Serial, t.Firmware, strings.Join(t.FlagNames(), ", "))
		if err := listObjects(ctx, out, mod, t, src, pinSource != ""); err != nil {
			return err
		}
	}
	return nil
}

func listObjects(ctx context.Context, out io.Writer, mod *hsm.Module, t hsm.TokenInfo, src secret.Source, login bool) error {
	s, err := mod.OpenSession(ctx, hsm.TokenSelector{Label: t.Label, Serial: t.Serial})
	if err != nil {
		return err
	}
	defer s.Close()
	if login {
		pin, err := src.Read(ctx, fmt.Sprintf("PIN for token %q", t.Label), secret.Terminal{})
		if err != nil {
			return err
		}
		err = s.Login(ctx, pin)
		clear(pin)
		if err != nil {
			return err
		}
	}
	objs, err := s.Objects(ctx)
	if err != nil {
		return err
	}
	scope := "public objects only: log in with --pin to see private keys"
	if login {
		scope = "logged in"
	}
	fmt.Fprintf(out, "  %d objects (%s)\n", len(objs), scope)
	if len(objs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLASS\tLABEL\tID\tKEY\tDETAILS")
	for _, o := range objs {
		details := o.Subject
		if o.Attrs != nil {
			details = access(*o.Attrs)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", o.Class, o.Label, o.IDHex(), o.KeyType, details)
	}
	return tw.Flush()
}

// access spells out a private key's attributes the way pkcs11-tool does, so
// the two listings can be compared line by line.
func access(a hsm.Attributes) string {
	var parts []string
	add := func(ok bool, s string) {
		if ok {
			parts = append(parts, s)
		}
	}
	add(a.Sensitive, "sensitive")
	add(a.AlwaysSensitive, "always sensitive")
	add(a.NeverExtractable, "never extractable")
	add(a.Extractable, "EXTRACTABLE")
	add(a.Local, "local")
	if a.Safe() != nil {
		parts = append(parts, "UNSAFE")
	}
	return strings.Join(parts, ", ")
}

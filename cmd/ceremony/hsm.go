package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

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
	inv := ui.Inventory{Module: ui.ModuleView{Path: shown(mod.Path()), Manufacturer: shown(info.Manufacturer),
		Description: shown(info.Description), LibraryVersion: info.LibraryVersion, Cryptoki: info.Cryptoki}}
	inv.Tokens, err = tokenViews(ctx, mod, token, src, pinSource != "")
	// What was read before a failure is printed too: a wrong-PIN error speaks
	// of the token's flags, which the token's header just above it shows.
	if perr := ui.PrintInventory(out, inv); err == nil {
		err = perr
	}
	return err
}

// tokenViews reads the tokens (every one, or the one labelled label) and
// their objects. After an error it returns the views read so far, the failing
// token's header included.
func tokenViews(ctx context.Context, mod *hsm.Module, label string, src secret.Source, login bool) ([]ui.TokenView, error) {
	tokens, err := selectTokens(ctx, mod, label)
	if err != nil {
		return nil, err
	}
	views := make([]ui.TokenView, 0, len(tokens))
	for _, t := range tokens {
		v := tokenView(t)
		// An unreadable or uninitialised token has no objects to ask for.
		if t.Initialized() {
			v.Objects, err = objectsView(ctx, mod, t, src, login)
		}
		views = append(views, v)
		if err != nil {
			return views, err
		}
	}
	return views, nil
}

func selectTokens(ctx context.Context, mod *hsm.Module, label string) ([]hsm.TokenInfo, error) {
	if label == "" {
		return mod.Tokens(ctx)
	}
	t, err := mod.FindToken(ctx, hsm.TokenSelector{Label: label})
	if err != nil {
		return nil, err
	}
	return []hsm.TokenInfo{t}, nil
}

func tokenView(t hsm.TokenInfo) ui.TokenView {
	switch {
	case t.Err != nil:
		return ui.TokenView{Slot: t.SlotID, Unreadable: shown(t.Err.Error())}
	case !t.Initialized():
		return ui.TokenView{Slot: t.SlotID, Uninitialised: true}
	}
	// The label is printed quoted (%q) already.
	return ui.TokenView{Slot: t.SlotID, Label: t.Label, Manufacturer: shown(t.Manufacturer), Model: shown(t.Model),
		Serial: shown(t.Serial), Firmware: shown(t.Firmware), Flags: t.FlagNames()}
}

// shown is a string a token reports, safe to print on the operator's
// terminal: as it is when every character is printable, else quoted with
// Go escapes, so that a label holding an escape sequence cannot repaint
// the screen or forge a line of the listing.
func shown(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	return strconv.Quote(s)
}

func objectsView(ctx context.Context, mod *hsm.Module, t hsm.TokenInfo, src secret.Source, login bool) (*ui.ObjectsView, error) {
	objs, err := tokenObjects(ctx, mod, t, src, login)
	if err != nil {
		return nil, err
	}
	v := &ui.ObjectsView{LoggedIn: login, List: make([]ui.ObjectView, len(objs))}
	for i, o := range objs {
		v.List[i] = objectView(o)
	}
	return v, nil
}

func objectView(o hsm.Object) ui.ObjectView {
	v := ui.ObjectView{Class: o.Class, Label: shown(o.Label), ID: o.IDHex(), KeyType: o.KeyType, Subject: shown(o.Subject)}
	if a := o.Attrs; a != nil {
		// The verdict is hsm's, the same check a ceremony applies before it
		// uses a key.
		v.Access = &ui.AccessView{Sensitive: a.Sensitive, AlwaysSensitive: a.AlwaysSensitive,
			NeverExtractable: a.NeverExtractable, Extractable: a.Extractable, Local: a.Local, Unsafe: a.Safe() != nil}
	}
	return v
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

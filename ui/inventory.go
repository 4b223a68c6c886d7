package ui

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Inventory is what `hsm list` shows: a module and its slots. It is a plain
// value the command fills in from the token, so that ui never reaches a
// token itself.
type Inventory struct {
	Module ModuleView
	Tokens []TokenView
}

// ModuleView is the library and what it says of itself (C_GetInfo).
type ModuleView struct {
	Path, Manufacturer, Description, LibraryVersion, Cryptoki string
}

// TokenView is one slot and its token.
type TokenView struct {
	Slot uint
	// Unreadable says why the slot could not be read; nothing else is known.
	Unreadable string
	// Uninitialised: the token was never set up, so it has no label or objects.
	Uninitialised bool

	Label, Manufacturer, Model, Serial, Firmware string
	Flags                                        []string
	// Objects is nil when the objects were not listed: a header alone is
	// what an operator sees above an error such as a wrong PIN.
	Objects *ObjectsView
}

// ObjectsView is a token's objects as one session saw them.
type ObjectsView struct {
	// LoggedIn: without a login private objects are hidden, and the listing
	// must say so or an operator would read "no private keys".
	LoggedIn bool
	List     []ObjectView
}

// ObjectView is one object on a token.
type ObjectView struct {
	Class, Label, ID, KeyType string // ID is CKA_ID in hex
	Subject                   string // certificates only
	Access                    *AccessView
}

// AccessView is a private key's safety attributes as the token reports them.
// Unsafe is the hsm package's verdict, not recomputed here, so that what the
// listing calls safe is what a ceremony would accept.
type AccessView struct {
	Sensitive, AlwaysSensitive, NeverExtractable, Extractable, Local, Unsafe bool
}

// PrintInventory prints `hsm list`: the module, then each slot and its objects.
func PrintInventory(w io.Writer, inv Inventory) error {
	m := inv.Module
	fmt.Fprintf(w, "Module %s: %s %s (library %s, Cryptoki %s)\n", m.Path, m.Manufacturer, m.Description, m.LibraryVersion, m.Cryptoki)
	for _, t := range inv.Tokens {
		if err := printToken(w, t); err != nil {
			return err
		}
	}
	return nil
}

func printToken(w io.Writer, t TokenView) error {
	switch {
	case t.Unreadable != "":
		fmt.Fprintf(w, "\nSlot %d: unreadable: %s\n", t.Slot, t.Unreadable)
		return nil
	case t.Uninitialised:
		fmt.Fprintf(w, "\nSlot %d: uninitialised token\n", t.Slot)
		return nil
	}
	fmt.Fprintf(w, "\nSlot %d: token %q  %s %s  serial %s  firmware %s\n  flags: %s\n",
		t.Slot, t.Label, t.Manufacturer, t.Model, t.Serial, t.Firmware, strings.Join(t.Flags, ", "))
	if t.Objects == nil {
		return nil
	}
	return printObjects(w, *t.Objects)
}

// printObjects prints a token's objects as a table like the seed's `ucl list`.
func printObjects(w io.Writer, objs ObjectsView) error {
	scope := "public objects only: log in with --pin to see private keys"
	if objs.LoggedIn {
		scope = "logged in"
	}
	fmt.Fprintf(w, "  %d objects (%s)\n", len(objs.List), scope)
	if len(objs.List) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLASS\tLABEL\tID\tKEY\tDETAILS")
	for _, o := range objs.List {
		details := o.Subject
		if o.Access != nil {
			details = access(*o.Access)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", o.Class, o.Label, o.ID, o.KeyType, details)
	}
	return tw.Flush()
}

// access spells out a private key's attributes the way pkcs11-tool does, so
// the two listings can be compared line by line.
func access(a AccessView) string {
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
	add(a.Unsafe, "UNSAFE")
	return strings.Join(parts, ", ")
}

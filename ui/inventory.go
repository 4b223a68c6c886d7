package ui

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ceremony-dev/ceremony/hsm"
)

// Module prints the header of `hsm list`: the library and what it says of itself.
func Module(w io.Writer, path string, info hsm.ModuleInfo) {
	fmt.Fprintf(w, "Module %s: %s %s (library %s, Cryptoki %s)\n", path, info.Manufacturer, info.Description, info.LibraryVersion, info.Cryptoki)
}

// Token prints one slot and its token. It reports whether the token can be
// listed further (it is readable and initialised).
func Token(w io.Writer, t hsm.TokenInfo) bool {
	switch {
	case t.Err != nil:
		fmt.Fprintf(w, "\nSlot %d: unreadable: %v\n", t.SlotID, t.Err)
		return false
	case !t.Initialized():
		fmt.Fprintf(w, "\nSlot %d: uninitialised token\n", t.SlotID)
		return false
	}
	fmt.Fprintf(w, "\nSlot %d: token %q  %s %s  serial %s  firmware %s\n  flags: %s\n",
		t.SlotID, t.Label, t.Manufacturer, t.Model, t.Serial, t.Firmware, strings.Join(t.FlagNames(), ", "))
	return true
}

// Objects prints a token's objects as a table like the seed's `ucl list`.
func Objects(w io.Writer, objs []hsm.Object, loggedIn bool) error {
	scope := "public objects only: log in with --pin to see private keys"
	if loggedIn {
		scope = "logged in"
	}
	fmt.Fprintf(w, "  %d objects (%s)\n", len(objs), scope)
	if len(objs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  CLASS\tLABEL\tID\tKEY\tDETAILS")
	for _, o := range objs {
		details := o.Subject
		if o.Attrs != nil {
			details = Access(*o.Attrs)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", o.Class, o.Label, o.IDHex(), o.KeyType, details)
	}
	return tw.Flush()
}

// Access spells out a private key's attributes the way pkcs11-tool does, so
// the two listings can be compared line by line.
func Access(a hsm.Attributes) string {
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

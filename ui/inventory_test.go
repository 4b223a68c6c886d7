package ui

import (
	"bytes"
	"go/build"
	"strings"
	"testing"
)

func TestPrintInventory(t *testing.T) {
	module := ModuleView{Path: "/usr/lib/softhsm/libsofthsm2.so", Manufacturer: "SoftHSM", Description: "Implementation of PKCS11", LibraryVersion: "2.6", Cryptoki: "2.40"}
	header := "Module /usr/lib/softhsm/libsofthsm2.so: SoftHSM Implementation of PKCS11 (library 2.6, Cryptoki 2.40)"
	token := func(label, serial string, objs *ObjectsView) TokenView {
		return TokenView{Slot: 7, Label: label, Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: serial, Firmware: "2.6",
			Flags: []string{"initialized", "login-required", "user-pin-set", "rng"}, Objects: objs}
	}
	flags := "  flags: initialized, login-required, user-pin-set, rng"
	safe := &AccessView{Sensitive: true, AlwaysSensitive: true, NeverExtractable: true, Local: true}
	// A key written onto the token from outside: sensitive now, but not
	// generated there and once in the clear.
	imported := &AccessView{Sensitive: true, Unsafe: true}
	cert := ObjectView{Class: "certificate", Label: "cert", ID: "0e", KeyType: "EC P-256", Subject: "CN=witness"}
	pub := ObjectView{Class: "public-key", Label: "good", ID: "0a0b", KeyType: "EC P-256"}

	tests := []struct {
		name   string
		tokens []TokenView
		want   []string // every line, in order
	}{
		{"keys, logged in", []TokenView{token("keys", "2d52b9ed080717dd", &ObjectsView{LoggedIn: true, List: []ObjectView{
			cert,
			{Class: "private-key", Label: "good", ID: "0a0b", KeyType: "EC P-256", Access: safe},
			pub,
			{Class: "private-key", Label: "imported", ID: "0e", KeyType: "EC P-256", Access: imported},
		}})}, []string{
			header,
			"",
			`Slot 7: token "keys"  SoftHSM project SoftHSM v2  serial 2d52b9ed080717dd  firmware 2.6`,
			flags,
			"  4 objects (logged in)",
			"  CLASS        LABEL     ID    KEY       DETAILS",
			"  certificate  cert      0e    EC P-256  CN=witness",
			"  private-key  good      0a0b  EC P-256  sensitive, always sensitive, never extractable, local",
			"  public-key   good      0a0b  EC P-256  ",
			"  private-key  imported  0e    EC P-256  sensitive, UNSAFE",
		}},
		{"empty token", []TokenView{token("empty", "c1a10dbffc188866", &ObjectsView{LoggedIn: true})}, []string{
			header,
			"",
			`Slot 7: token "empty"  SoftHSM project SoftHSM v2  serial c1a10dbffc188866  firmware 2.6`,
			flags,
			"  0 objects (logged in)",
		}},
		{"no login", []TokenView{token("keys", "2d52b9ed080717dd", &ObjectsView{List: []ObjectView{cert, pub}})}, []string{
			header,
			"",
			`Slot 7: token "keys"  SoftHSM project SoftHSM v2  serial 2d52b9ed080717dd  firmware 2.6`,
			flags,
			"  2 objects (public objects only: log in with --pin to see private keys)",
			"  CLASS        LABEL  ID    KEY       DETAILS",
			"  certificate  cert   0e    EC P-256  CN=witness",
			"  public-key   good   0a0b  EC P-256  ",
		}},
		// The objects were never listed (a wrong PIN): the header stands
		// alone above the error, with no count that would read as "none".
		{"not listed", []TokenView{token("keys", "2d52b9ed080717dd", nil)}, []string{
			header,
			"",
			`Slot 7: token "keys"  SoftHSM project SoftHSM v2  serial 2d52b9ed080717dd  firmware 2.6`,
			flags,
		}},
		{"odd slots", []TokenView{{Slot: 1, Unreadable: "CKR_DEVICE_ERROR"}, {Slot: 2, Uninitialised: true}}, []string{
			header,
			"",
			"Slot 1: unreadable: CKR_DEVICE_ERROR",
			"",
			"Slot 2: uninitialised token",
		}},
		{"no slots", nil, []string{header}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := PrintInventory(&b, Inventory{Module: module, Tokens: tc.tokens}); err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(tc.want, "\n") + "\n"; b.String() != want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), want)
			}
		})
	}
}

func TestAccess(t *testing.T) {
	tests := []struct {
		name string
		a    AccessView
		want string
	}{
		{"generated on the token", AccessView{Sensitive: true, AlwaysSensitive: true, NeverExtractable: true, Local: true},
			"sensitive, always sensitive, never extractable, local"},
		{"extractable", AccessView{Sensitive: true, Extractable: true, Local: true, Unsafe: true}, "sensitive, EXTRACTABLE, local, UNSAFE"},
		// SoftHSM2 killed mid-generation leaves an empty private key object.
		{"empty object", AccessView{Unsafe: true}, "UNSAFE"},
		{"nothing said", AccessView{}, ""},
	}
	for _, tc := range tests {
		if got := access(tc.a); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestLayering: ui shows what steps report and what commands hand it; it
// imports none of the layers below steps, in its code or its tests.
// (Transitively it still reaches them through steps, which is the point of
// the layering, so `go list -deps` cannot tell.)
func TestLayering(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/ceremony-dev/ceremony/"
	for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
		for _, below := range []string{"hsm", "pki", "trust", "transcript"} {
			if imp == mod+below || strings.HasPrefix(imp, mod+below+"/") {
				t.Errorf("ui imports %s", imp)
			}
		}
	}
}

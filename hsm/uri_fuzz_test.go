package hsm

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseURI: a parsed URI prints back (String) to a URI that parses to
// the same fields; pin-value is never accepted.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=ceremony;object=root;id=%a1%b2;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
		"pkcs11:object=a%3Bb?pin-value=1234", "pkcs11:serial=0123456789abcdef;id=%00", "pkcs11:object=x?module-name=softhsm2",
		"pkcs11:token=a%0Ab;object=%1b[31m", "pkcs11:object=%zz", "pkcs11:;;", "pkcs11:object=x?&&",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		if strings.Contains(s, "pin-value") && strings.Contains(s, "?") && strings.Contains(strings.SplitN(s, "?", 2)[1], "pin-value=") {
			t.Fatalf("accepted a pin-value: %q", s)
		}
		back, err := ParseURI(u.String())
		if err != nil {
			t.Fatalf("%q prints as %q, which does not parse: %v", s, u.String(), err)
		}
		if back.Token != u.Token || back.Manufacturer != u.Manufacturer || back.Model != u.Model || back.Serial != u.Serial ||
			back.Object != u.Object || !bytes.Equal(back.ID, u.ID) || back.Type != u.Type || back.ModulePath != u.ModulePath || back.PinSource != u.PinSource {
			t.Fatalf("%q prints as %q, which parses to %+v, not %+v", s, u.String(), back, u)
		}
	})
}

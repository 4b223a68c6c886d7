package keyspec

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, kt := range All() {
		got, err := Parse(strings.ToUpper(string(kt)))
		if err != nil || got != kt {
			t.Errorf("Parse(%s) = %s, %v", kt, got, err)
		}
	}
	for _, bad := range []string{"", "rsa-1024", "ed25519", "ecdsa-p521"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "ecdsa-p256") {
			t.Errorf("Parse(%q) = %v, want an error listing the types", bad, err)
		}
	}
}

func TestUnmarshalTextThenCheck(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Type
		ok   bool
	}{{"ECDSA-P256", ECDSAP256, true}, {" rsa-3072", RSA3072, true}, {"rsa-1024", "rsa-1024", false}} {
		var got Type
		if err := got.UnmarshalText([]byte(c.in)); err != nil {
			t.Fatal(err)
		}
		if got != c.want || (got.Check() == nil) != c.ok {
			t.Errorf("%q: %q, Check %v", c.in, got, got.Check())
		}
	}
}

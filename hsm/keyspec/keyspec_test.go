package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
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

// TestThrowaway: each type makes a key of its own algorithm and size, and
// SamePublic tells that key from another of the same type.
func TestThrowaway(t *testing.T) {
	for _, kt := range All() {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			k, err := kt.Throwaway()
			if err != nil {
				t.Fatal(err)
			}
			other, err := kt.Throwaway()
			if err != nil {
				t.Fatal(err)
			}
			switch pub := k.Public().(type) {
			case *ecdsa.PublicKey:
				if pub.Curve != kt.Curve() {
					t.Errorf("curve %s", pub.Curve.Params().Name)
				}
			case *rsa.PublicKey:
				if kt.IsEC() || pub.N.BitLen() != kt.Bits() {
					t.Errorf("RSA %d bits", pub.N.BitLen())
				}
			default:
				t.Errorf("key %T", pub)
			}
			for _, c := range []struct {
				name string
				a, b crypto.PublicKey
				want bool
			}{
				{"itself", k.Public(), k.Public(), true},
				{"another key", k.Public(), other.Public(), false},
				{"nil", k.Public(), nil, false},
				{"a key without Equal", struct{}{}, k.Public(), false},
			} {
				if got := SamePublic(c.a, c.b); got != c.want {
					t.Errorf("SamePublic, %s: %v", c.name, got)
				}
			}
		})
	}
	if _, err := Type("rsa-1024").Throwaway(); err == nil || !strings.Contains(err.Error(), "rsa-1024") {
		t.Errorf("Throwaway of an unknown type: %v", err)
	}
}

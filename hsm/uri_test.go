package hsm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in      string
		want    URI
		wantErr string
	}{
		{in: "pkcs11:token=ceremony;object=root", want: URI{Token: "ceremony", Object: "root"}},
		{in: "pkcs11:token=my%20token;id=%a1%B2;type=private", want: URI{Token: "my token", ID: []byte{0xa1, 0xb2}, Type: "private"}},
		{in: "pkcs11:object=root?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
			want: URI{Object: "root", ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PinSource: "file:/run/pin"}},
		{in: "pkcs11:serial=abc;object=x;slot-id=3", want: URI{Serial: "abc", Object: "x"}},
		{in: "root", wantErr: `must start with "pkcs11:"`},
		{in: "pkcs11:token=ceremony", wantErr: "names no key"},
		{in: "pkcs11:object=root?pin-value=1234", wantErr: "pin-value is refused"},
		{in: "pkcs11:object=root;colour=red", wantErr: `unknown path attribute "colour"`},
		{in: "pkcs11:object=root;type=secret", wantErr: "unknown type"},
		{in: "pkcs11:object", wantErr: "has no '='"},
		{in: "pkcs11:object=%zz", wantErr: "object"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseURI(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseURI(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "1234") {
					t.Fatalf("error echoes the PIN: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Token != tc.want.Token || got.Object != tc.want.Object || !bytes.Equal(got.ID, tc.want.ID) ||
				got.Type != tc.want.Type || got.ModulePath != tc.want.ModulePath || got.PinSource != tc.want.PinSource || got.Serial != tc.want.Serial {
				t.Fatalf("ParseURI(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			// String round-trips.
			again, err := ParseURI(got.String())
			if err != nil || again.String() != got.String() {
				t.Fatalf("round trip %q -> %q: %v", got.String(), again, err)
			}
		})
	}
}

func TestParseECPoint(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := k.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		der, _ := asn1.Marshal(raw)
		for name, in := range map[string][]byte{"raw": raw, "der": der} {
			got, err := parseECPoint(curve, in)
			if err != nil || !got.Equal(&k.PublicKey) {
				t.Errorf("%s %s: %v", curve.Params().Name, name, err)
			}
		}
		for name, in := range map[string][]byte{"truncated": raw[:len(raw)-1], "der-with-trailer": append(der, 0), "empty": nil} {
			if _, err := parseECPoint(curve, in); err == nil {
				t.Errorf("%s %s accepted", curve.Params().Name, name)
			}
		}
	}
}

func TestAttributesSafe(t *testing.T) {
	good := Attributes{Token: true, Private: true, Sensitive: true, AlwaysSensitive: true, NeverExtractable: true, Local: true}
	if err := good.Safe(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Attributes){
		"CKA_EXTRACTABLE":       func(a *Attributes) { a.Extractable = true },
		"CKA_SENSITIVE":         func(a *Attributes) { a.Sensitive = false },
		"CKA_LOCAL":             func(a *Attributes) { a.Local = false },
		"CKA_NEVER_EXTRACTABLE": func(a *Attributes) { a.NeverExtractable = false },
		"CKA_ALWAYS_SENSITIVE":  func(a *Attributes) { a.AlwaysSensitive = false },
		"CKA_TOKEN":             func(a *Attributes) { a.Token = false },
		"CKA_PRIVATE":           func(a *Attributes) { a.Private = false },
	} {
		a := good
		mutate(&a)
		if err := a.Safe(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

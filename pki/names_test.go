package pki

import (
	"strings"
	"testing"
)

func TestParseSubject(t *testing.T) {
	for _, tc := range []struct {
		in, want string // want: pkix.Name.String(), or the error's substring
		ok       bool
	}{
		{"CN=Docker Notary CA", "CN=Docker Notary CA", true},
		{"CN=Docker Notary CA,O=Acme", "CN=Docker Notary CA,O=Acme", true},
		{" cn = Docker Notary CA , o = Acme , c = DE ", "CN=Docker Notary CA,O=Acme,C=DE", true},
		{`CN=Notary CA,O=Acme\, Inc.,OU=Platform,L=Berlin,ST=Berlin,C=DE`, `CN=Notary CA,OU=Platform,O=Acme\, Inc.,L=Berlin,ST=Berlin,C=DE`, true},
		{`CN=back\\slash`, `CN=back\\slash`, true},
		{"", "subject is empty", false},
		{"   ", "subject is empty", false},
		{"/CN=Docker Notary CA", "openssl's /CN=.../O=... form", false},
		{"Docker Notary CA", `"Docker Notary CA" is not ATTR=value`, false},
		{"=x", `"=x" is not ATTR=value`, false},
		{"CN=x,", `"" is not ATTR=value`, false},
		{"CN=a,E=root@example.com", `unknown attribute "E" (known: CN, O, OU, L, ST, C)`, false},
		{"CN=a,CN=b", "CN given twice", false},
		{"CN=a,O=", "O is empty", false},
		{"CN=a,C=Germany", `C must be a two-letter ISO 3166 country code like US, got "Germany"`, false},
		{"CN=a,C=de", "two-letter", false},
		{`CN=a\b`, "a backslash may only escape", false},
		{`CN=a\`, "a backslash may only escape", false},
		{"CN=" + strings.Repeat("é", 64), "CN=" + strings.Repeat("é", 64), true},
		{"CN=" + strings.Repeat("a", 65), "CN is 65 characters; X.509 allows at most 64", false},
		{"CN=a,O=" + strings.Repeat("a", 65), "O is 65 characters", false},
		{"CN=a,OU=" + strings.Repeat("a", 65), "OU is 65 characters", false},
		{"CN=a,L=" + strings.Repeat("a", 128), "CN=a,L=" + strings.Repeat("a", 128), true},
		{"CN=a,L=" + strings.Repeat("a", 129), "L is 129 characters; X.509 allows at most 128", false},
		{"CN=a,ST=" + strings.Repeat("a", 129), "ST is 129 characters", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			name, err := ParseSubject(tc.in)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("error %v", err)
			case tc.ok && name.String() != tc.want:
				t.Errorf("got %q, want %q", name.String(), tc.want)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

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

func TestValidateGUN(t *testing.T) {
	for _, tc := range []struct {
		gun  string
		want string // "" for valid, else the error's substring
	}{
		{"docker.io/alice/nginx", ""},
		{"docker.io/library/nginx", ""},
		{"registry.example.com:5000/team/my_app", ""},
		{"localhost/a", ""},
		{"ghcr.io/acme/tools/build-image.v2", ""},
		{"quay.io/a__b/c--d", ""},
		{"", "GUN is empty"},
		{"docker.io/alice/my nginx", "contains spaces or control characters"},
		{"docker.io/alice/nginx\n", "contains spaces or control characters"},
		{"docker.io/alice/\tnginx", "contains spaces or control characters"},
		{"docker.io/Alice/nginx", `must be lowercase: "docker.io/alice/nginx"`},
		{"docker.io/alice/*", "wildcard"},
		{"/docker.io/alice/nginx", `must not start or end with "/"`},
		{"docker.io/alice/nginx/", `must not start or end with "/"`},
		{"docker.io/alice/../nginx", `must not contain ".."`},
		{"docker.io//nginx", "empty path component"},
		{"docker.io", "has no repository path"},
		{"alice/nginx", `must start with a registry host such as docker.io, not "alice"`},
		{"-bad.io/alice/nginx", `"-bad.io" is not a valid registry host`},
		{"docker.io:port/alice/nginx", "not a valid registry host"},
		{"docker.io/alice/.nginx", `path component ".nginx"`},
		{"docker.io/alice/nginx-", `path component "nginx-"`},
		{"docker.io/alice/a___b", `path component "a___b"`},
		{"docker.io/alice/ngïnx", `path component "ngïnx"`},
		{"docker.io/" + strings.Repeat("a", 250), "characters long; docker allows 255"},
		{"docker.io/" + strings.Repeat("a", 60), "its certificate's CN can hold 64"},
	} {
		t.Run(tc.gun, func(t *testing.T) {
			err := ValidateGUN(tc.gun)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

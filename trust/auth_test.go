package trust

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestParseAuth: the value is NOTARY_AUTH's, and a refusal never quotes it.
func TestParseAuth(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"good", "YWxpY2U6aHVudGVyMg==", ""}, // alice:hunter2
		{"trailing newline", "YWxpY2U6aHVudGVyMg==\n", ""},
		{"not base64", "alice:hunter2", "is not base64"},
		{"no colon", "YWxpY2VodW50ZXIy", "does not decode to user:password"}, // alicehunter2
		{"no user", "Omh1bnRlcjI=", "does not decode to user:password"},      // :hunter2
		{"no password", "YWxpY2U6", "does not decode to user:password"},      // alice:
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ParseAuth([]byte(tc.in))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
}

// TestCredentialsOnlyOverHTTPS: the password goes to an https realm only.
func TestCredentialsOnlyOverHTTPS(t *testing.T) {
	c := &credentials{user: "alice", pass: "hunter2"}
	for realm, want := range map[string]string{"https://auth.example/token": "hunter2", "http://auth.example/token": ""} {
		u, _ := url.Parse(realm)
		if _, pass := c.Basic(u); pass != want {
			t.Errorf("%s: password %q, want %q", realm, pass, want)
		}
	}
}

// TestRequestScopes: each request asks for the actions notary-server's route
// requires, and nothing more.
func TestRequestScopes(t *testing.T) {
	const base = "https://notary.example/v2/docker.io/alice/app/_trust/tuf/"
	for _, tc := range []struct {
		method, url, want string
	}{
		{"GET", base + "root.json", "repository:docker.io/alice/app:pull"},
		{"GET", base + "targets/me.json", "repository:docker.io/alice/app:pull"},
		{"GET", base + "timestamp.key", "repository:docker.io/alice/app:push,pull"},
		{"POST", base, "repository:docker.io/alice/app:push,pull"},
		{"POST", base + "snapshot.key", "repository:docker.io/alice/app:*"},
		{"DELETE", base, "repository:docker.io/alice/app:*"},
		{"GET", "https://notary.example/v2/", "[]"},
	} {
		r, err := http.NewRequest(tc.method, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(requestScopes(r))
		if got != tc.want && got != "["+tc.want+"]" {
			t.Errorf("%s %s: scopes %s, want %s", tc.method, tc.url, got, tc.want)
		}
	}
}

// TestHealthCause: notary-server's failed checks, on one line.
func TestHealthCause(t *testing.T) {
	for body, want := range map[string]string{
		`{"Trust operational":"rpc error:\n connection refused","DB operational":"no tables"}`: "its database (DB operational): no tables; notary-signer (Trust operational): rpc error: connection refused",
		`{"Other check":"down"}`: "Other check: down",
		"":                       "no cause given",
		"upstream\nunavailable":  "upstream unavailable",
	} {
		if got := healthCause([]byte(body)); got != want {
			t.Errorf("healthCause(%q) = %q, want %q", body, got, want)
		}
	}
}

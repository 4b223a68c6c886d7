package names

import (
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/theupdateframework/notary/tuf/data"
)

// oneLine: a refusal is printed as one line whatever the value held.
func oneLine(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
		t.Fatalf("the refusal spans lines: %q", err.Error())
	}
}

// FuzzCheckGUN: an accepted GUN is what docker and notary use as is: docker
// normalizes it to itself, it has no tag or digest, it fits a CN.
func FuzzCheckGUN(f *testing.F) {
	for _, s := range []string{"docker.io/alice/nginx", "alice/nginx", "docker.io/Alice/nginx", "localhost:5000/a/b:v1",
		"docker.io/a/b@sha256:" + strings.Repeat("ab", 32), "r.example/a/../b", "docker.io/a/\nb", "docker.io/a/b\x1b[31m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, gun string) {
		err := CheckGUN(gun)
		oneLine(t, err)
		if err != nil {
			return
		}
		named, perr := reference.ParseNormalizedNamed(gun)
		if perr != nil || named.Name() != gun || len(gun) > MaxGUN || strings.ContainsAny(gun, ":@") && !strings.Contains(strings.SplitN(gun, "/", 2)[0], ":") {
			t.Fatalf("accepted %q: parse %v, name %v", gun, perr, named)
		}
		if _, ok := named.(reference.Tagged); ok {
			t.Fatalf("accepted a tagged reference %q", gun)
		}
	})
}

// FuzzCheckRole: CheckRole is notary's own rule, CheckDelegation adds
// "directly under targets", and each refusal is one line.
func FuzzCheckRole(f *testing.F) {
	for _, s := range []string{"targets/releases", "targets", "targets/", "targets/Me", "targets/../x", "targets/a/b", "targets/v1.0", "releases", "targets/a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, role string) {
		err := CheckRole(role)
		oneLine(t, err)
		if (err == nil) != data.IsDelegation(data.RoleName(role)) {
			t.Fatalf("CheckRole(%q) = %v, notary's IsDelegation says %v", role, err, data.IsDelegation(data.RoleName(role)))
		}
		derr := CheckDelegation(role)
		oneLine(t, derr)
		if derr == nil && (err != nil || path.Dir(role) != "targets") {
			t.Fatalf("CheckDelegation accepted %q", role)
		}
	})
}

// FuzzCheckServerURL: an accepted URL is https://HOST[:PORT] and nothing
// else, and no refusal shows a password.
func FuzzCheckServerURL(f *testing.F) {
	for _, s := range []string{"https://notary.example.com:4443", "http://x", "https://a:hunter2@x", "https://x/v2/", "https://x?q", "https://x#", "https://[::1]:4443", "https://x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := CheckServerURL(raw)
		oneLine(t, err)
		u, perr := url.Parse(raw)
		if err != nil {
			if perr == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && len(pw) >= 6 && strings.Contains(err.Error(), pw) && !strings.Contains(strings.Replace(raw, pw, "", 1), pw) {
					t.Fatalf("the refusal shows the password: %q", err.Error())
				}
			}
			return
		}
		if perr != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("accepted %q", raw)
		}
	})
}

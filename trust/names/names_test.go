package names

import (
	"fmt"
	"strings"
	"testing"
)

// check runs one table of a validator: want "" accepts, else the error's
// substring; every refusal is one line.
func check(t *testing.T, validate func(string) error, rows []struct{ in, want string }) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.in, func(t *testing.T) {
			err := validate(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("err %v, want %q", err, tc.want)
			case strings.Contains(err.Error(), "\n"):
				t.Fatalf("not one line: %q", err)
			}
		})
	}
}

func TestCheckGUN(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	check(t, CheckGUN, []struct{ in, want string }{
		{"docker.io/alice/nginx", ""},
		{"docker.io/library/nginx", ""},
		{"registry.example.com:5000/team/my_app", ""},
		{"localhost/a", ""},
		{"localhost:5000/a", ""},
		{"127.0.0.1:5000/alice/nginx", ""},
		{"ghcr.io/acme/tools/build-image.v2", ""},
		{"quay.io/a__b/c--d", ""},
		{"docker.io/a/" + strings.Repeat("b", MaxGUN-len("docker.io/a/")), ""},
		{"", "GUN is empty"},
		{"docker.io/alice/my nginx", "contains a space or control character"},
		{"docker.io/alice/nginx\n", "contains a space or control character"},
		{"docker.io/alice/\tnginx", "contains a space or control character"},
		{"docker.io/Alice/nginx", `uppercase letters, which docker refuses; write it as "docker.io/alice/nginx"`},
		{"Docker.io/alice/nginx", `write it as "docker.io/alice/nginx"`},
		{"docker.io/alice/nginx:latest", `names a tag; a GUN is the repository alone: write it as "docker.io/alice/nginx"`},
		{"docker.io/alice/nginx@sha256:" + hex64, `names a digest; a GUN is the repository alone: write it as "docker.io/alice/nginx"`},
		{"docker.io/alice/nginx:v1@sha256:" + hex64, `names a tag`},
		{"alice/nginx", `not fully qualified; docker names this repository "docker.io/alice/nginx"`},
		{"nginx", `"docker.io/library/nginx"`},
		{"docker.io/nginx", `"docker.io/library/nginx"`},
		{"index.docker.io/alice/nginx", `"docker.io/alice/nginx"`},
		{"docker.io/alice/*", "not a docker repository name"},
		{"/docker.io/alice/nginx", "not a docker repository name"},
		{"docker.io/alice/nginx/", "not a docker repository name"},
		{"docker.io/alice/../nginx", "not a docker repository name"},
		{"docker.io//nginx", "not a docker repository name"},
		{"-bad.io/alice/nginx", "not a docker repository name"},
		{"docker.io:port/alice/nginx", "not a docker repository name"},
		{"docker.io/alice/.nginx", "not a docker repository name"},
		{"docker.io/alice/nginx-", "not a docker repository name"},
		{"docker.io/alice/a___b", "not a docker repository name"},
		{"docker.io/alice/ngïnx", "not a docker repository name"},
		{hex64, "not a docker repository name"},
		{"docker.io/a/" + strings.Repeat("b", MaxGUN-len("docker.io/a/")+1), "is 65 characters; the repository certificate's CN must equal it and holds at most 64"},
		{"docker.io/" + strings.Repeat("a", 300), "not a docker repository name"},
	})
}

func TestCheckRole(t *testing.T) {
	check(t, CheckRole, []struct{ in, want string }{
		{"targets/me", ""},
		{"targets/releases", ""},
		{"targets/team/releases", ""},
		{"targets/a_b-c9", ""},
		{"targets/" + strings.Repeat("a", 247), ""},
		{"targets/Me", `role "targets/Me" is not a delegation role: notary refuses uppercase; write it as "targets/me"`},
		{"Targets/me", `write it as "targets/me"`},
		{"releases", `role "releases" is not a delegation role: delegation roles start with targets/, like targets/releases`},
		{"root", "start with targets/"},
		{"", "is not a delegation role: name the delegate's role like targets/releases"},
		{"targets", "is not a delegation role"},
		{"targets/", "is not a delegation role"},
		{"targets/../x", "not a clean path"},
		{"targets/a//b", "not a clean path"},
		{"targets/x/", "not a clean path"},
		{"targets/./x", "not a clean path"},
		{"targets/a.b", `it contains '.'; notary allows only a-z, 0-9`},
		{"targets/a b", `contains ' '`},
		{"targets/*", `contains '*'`},
		{"targets/" + strings.Repeat("a", 248), "it is 256 characters and notary allows at most 255"},
	})
}

func TestCheckDelegation(t *testing.T) {
	check(t, CheckDelegation, []struct{ in, want string }{
		{"targets/me", ""},
		{"targets/releases", ""},
		{"targets/Me", "notary refuses uppercase"},
		{"targets/team/releases", `nested under targets/team, whose key the ceremony does not hold (it signs with the targets key); delegate "targets/releases" instead`},
	})
}

func TestSignerRoles(t *testing.T) {
	for _, tc := range []struct {
		role          string
		docker, all   bool
		want, refused string
	}{
		{"targets/me", false, true, "targets/me", ""},
		{"targets/me", false, false, "targets/me", ""},
		{"targets/me", true, true, "targets/releases targets/me", ""},
		{"targets/releases", false, true, "targets/releases", ""},
		{"targets/releases", true, true, "targets/releases", ""},
		{"targets/me", true, false, "", "targets/me puts the key in targets/releases, which docker's signers share with every path: give paths: all"},
		{"targets/releases", false, false, "", "give paths: all"},
		{"targets/team/me", true, true, "", "nested under targets/team"},
		{"me", true, true, "", "start with targets/"},
	} {
		t.Run(fmt.Sprint(tc.role, tc.docker, tc.all), func(t *testing.T) {
			roles, err := SignerRoles(tc.role, tc.docker, tc.all)
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused == "" && strings.Join(roles, " ") != tc.want:
				t.Fatalf("roles %q, want %q", roles, tc.want)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Fatalf("roles %q, err %v; want %q", roles, err, tc.refused)
			}
		})
	}
}

func TestCheckServerURL(t *testing.T) {
	check(t, CheckServerURL, []struct{ in, want string }{
		{"https://notary.example.com", ""},
		{"https://127.0.0.1:4443", ""},
		{"https://127.0.0.1:4443/", ""},
		{"https://[::1]:4443", ""},
		{"", "URL is empty"},
		{"http://notary.example.com", "is not https: the server's TLS is always verified"},
		{"notary.example.com:4443", "is not https"},
		{"notary.example.com", "is not https"},
		{"https://", "names no host"},
		{"https:notary", "names no host"},
		{"https:///v2", "names no host"},
		{"https://alice:secret@n.example", `URL "https://alice:xxxxx@n.example" holds a user name or password, which would reach the transcript and logs; write it as "https://n.example"`},
		{"http://alice:secret@n.example/x", `URL "http://alice:xxxxx@n.example/x" holds a user name or password`},
		{"https://n.example/notary", `has a path; notary adds /v2/<gun>/... itself: write it as "https://n.example"`},
		{"https://n.example/v2/", `write it as "https://n.example"`},
		{"https://n.example?x=1", "has a query or fragment"},
		{"https://n.example/?", "has a query or fragment"},
		{"https://n.example#top", "has a query or fragment"},
		{"https://n.example#", "has a query or fragment"},
		{"https://n.example:port", "does not parse"},
		{"https://n example", "does not parse"},
	})
}

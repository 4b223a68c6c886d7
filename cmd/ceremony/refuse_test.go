package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// TestRunRefusesBeforeKeys: every value that notary, docker, the token or
// zlint would refuse later is refused by `ceremony run` before anything
// happens, with one line naming the field and the fix: no output directory,
// no transcript, no trust dir, nothing on the token. Each row changes one
// value of a config that is otherwise good (the control row says so).
func TestRunRefusesBeforeKeys(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	srv := testenv.NotaryServerT(t)
	const gun = "docker.io/alice/nginx"
	good := func() testenv.Ceremony {
		return testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{Role: "targets/releases"}}}
	}
	withGUN := func(g string) func(*testenv.Ceremony) {
		return func(c *testenv.Ceremony) { c.GUNs, c.Delegations[0].GUN = []string{g}, g }
	}
	withRole := func(r string) func(*testenv.Ceremony) {
		return func(c *testenv.Ceremony) { c.Delegations[0].Role = r }
	}
	withURL := func(u string) func(*testenv.Ceremony) {
		return func(c *testenv.Ceremony) { c.URL = u }
	}
	withExtra := func(yaml string) func(*testenv.Ceremony) {
		return func(c *testenv.Ceremony) { c.Extra = yaml }
	}
	digest := "@sha256:" + strings.Repeat("ab", 32)
	rows := []struct {
		name string
		edit func(*testenv.Ceremony)
		want string // the field, then the words of the refusal
	}{
		{"role with uppercase", withRole("targets/Me"), `delegations[0].role: role "targets/Me" is not a delegation role: notary refuses uppercase; write it as "targets/me"`},
		{"role without targets/", withRole("releases"), `delegations[0].role: role "releases" is not a delegation role: delegation roles start with targets/`},
		{"role targets itself", withRole("targets"), `delegations[0].role: role "targets" is not a delegation role`},
		{"role not clean", withRole("targets/../x"), `delegations[0].role: role "targets/../x" is not a delegation role: it is not a clean path`},
		{"role with a dot", withRole("targets/v1.0"), `delegations[0].role: role "targets/v1.0" is not a delegation role: it contains '.'`},
		{"role nested", withRole("targets/team/releases"), `delegations[0].role: role "targets/team/releases" is nested under targets/team`},
		{"GUN with uppercase", withGUN("docker.io/Alice/nginx"), `repositories[0].gun: GUN "docker.io/Alice/nginx" has uppercase letters, which docker refuses; write it as "docker.io/alice/nginx"`},
		{"GUN with a tag", withGUN(gun + ":latest"), `repositories[0].gun: GUN "docker.io/alice/nginx:latest" names a tag; a GUN is the repository alone: write it as "docker.io/alice/nginx"`},
		{"GUN with a digest", withGUN(gun + digest), `repositories[0].gun: GUN "docker.io/alice/nginx` + digest + `" names a digest`},
		{"GUN over 64 characters", withGUN("docker.io/alice/" + strings.Repeat("n", 49)), `repositories[0].gun: GUN "docker.io/alice/nnn`},
		{"GUN with a space", withGUN("docker.io/alice/my nginx"), `repositories[0].gun: GUN "docker.io/alice/my nginx" contains a space`},
		{"GUN not fully qualified", withGUN("alice/nginx"), `repositories[0].gun: GUN "alice/nginx" is not fully qualified; docker names this repository "docker.io/alice/nginx"`},
		{"GUN climbing out", withGUN("docker.io/alice/../nginx"), `repositories[0].gun: GUN "docker.io/alice/../nginx" is not a docker repository name`},
		{"http URL", withURL("http://127.0.0.1:4443"), `notary.url: notary server URL "http://127.0.0.1:4443" is not https`},
		{"URL with a path", withURL(srv.URL + "/v2/"), `notary.url: notary server URL "` + srv.URL + `/v2/" has a path; notary adds /v2/<gun>/... itself: write it as "` + srv.URL + `"`},
		{"URL with a query", withURL(srv.URL + "?x=1"), `notary.url: notary server URL "` + srv.URL + `?x=1" has a query or fragment`},
		{"URL with credentials", withURL(strings.Replace(srv.URL, "https://", "https://alice:hunter2@", 1)), `notary.url: notary server URL "https://alice:xxxxx@`},
		{"literal PIN", func(c *testenv.Ceremony) { c.PIN = tok.PIN }, `hsm.pin: secret source: use env:NAME, file:PATH or prompt (a literal secret is not accepted)`},
		{"literal passphrase", func(c *testenv.Ceremony) {
			c.Notary = nil
			c.Extra = "notary: {url: " + srv.URL + ", tls_ca: " + srv.CAFile + ", trust_dir: trust, targets_passphrase: hunter2, snapshot_passphrase: env:S}\n"
		}, `notary.targets_passphrase: secret source: use env:NAME, file:PATH or prompt`},
		{"unknown key type", withExtra("ca: {key: ed448}\n"), `ca.key: unknown key type "ed448"`},
		{"label with spaces", withExtra("root: {label: ' root'}\n"), `root.label: label " root" has surrounding spaces`},
		{"label too long", withExtra("ca: {label: " + strings.Repeat("l", 33) + "}\n"), `ca.label: label "lll`},
		{"days out of range", withExtra("root: {days: 3651}\n"), `root.days: 3651 days is out of range 1..3650`},
		{"CA subject with an unknown attribute", withExtra("ca: {subject: 'CN=Notary CA,E=ca@example.com'}\n"), `ca.subject: subject "CN=Notary CA,E=ca@example.com": unknown attribute "E"`},
		{"CA subject CN too long", withExtra("ca: {subject: 'CN=" + strings.Repeat("c", 65) + "'}\n"), `ca.subject: subject "CN=ccc`},
		{"typo in a key", withExtra("root: {lable: root2}\n"), `unknown key "lable" (did you mean "label"?); the keys here are label, key, subject, days`},
		{"days as a fraction", withExtra("ca: {days: 365.5}\n"), `ca.days: 365.5 is not a whole number of days`},
		{"days zero", withExtra("root: {days: 0}\n"), `root.days: 0 days: give the validity in days (1 or more), or leave days out for the default`},
		{"days a word", withExtra("root: {days: year}\n"), `"year" is not a whole number`},
		{"label with an escape", withExtra("ca: {label: \"ca\\e[2J\"}\n"), `ca.label: label "ca\x1b[2J" holds the unprintable character U+001B`},
		{"token label with a newline", func(c *testenv.Ceremony) { c.Token.Label = "tok\nen" }, `hsm.token: label "tok\nen" holds the unprintable character U+000A`},
	}

	control := good().Write(t)
	if r := ceremony(t, nil, "run", "--config", control, "--plan"); r.code != 0 {
		t.Fatalf("the good config is refused: exit %d\n%s", r.code, r.stderr)
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.edit(&c)
			cfg := c.Write(t)
			r := ceremony(t, nil, "run", "--config", cfg, "--non-interactive")
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("exit %d, stderr %q\nwant exit 1 and one line with %q", r.code, r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("something ran before the refusal:\n%s", r.stdout)
			}
			if strings.Contains(r.stderr, tok.PIN) || strings.Contains(r.stderr, "hunter2") {
				t.Errorf("the refusal echoes a secret: %s", r.stderr)
			}
			for _, made := range []string{"out", "trust"} {
				if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), made)); !os.IsNotExist(err) {
					t.Errorf("the refused run made %s/ (%v)", made, err)
				}
			}
			objs, err := tok.Session(t).Objects(context.Background())
			if err != nil || len(objs) != 0 {
				t.Fatalf("the token holds %d objects after the refused run (%v)", len(objs), err)
			}
		})
	}
}

// TestDelegateRefusesFlags: sign and validate refuse a GUN, role or secret
// source before they read a key, a registry or the server.
func TestDelegateRefusesFlags(t *testing.T) {
	t.Parallel()
	none := filepath.Join(t.TempDir(), "none")
	server := []string{"--server", "https://127.0.0.1:1", "--trust-dir", none, "--ca", none}
	sign := func(gun, role string, more ...string) []string {
		args := append([]string{"sign", "--gun", gun, "--role", role, "--tag", "v1", "--manifest", none, "--key", none}, server...)
		return append(args, more...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"sign: role with uppercase", sign("docker.io/alice/nginx", "targets/Me"), `--role: role "targets/Me" is not a delegation role: notary refuses uppercase`},
		{"sign: GUN with a tag", sign("docker.io/alice/nginx:v1", "targets/me"), `--gun: GUN "docker.io/alice/nginx:v1" names a tag`},
		{"sign: literal key passphrase", sign("docker.io/alice/nginx", "targets/me", "--key-passphrase", "hunter2"), "--key-passphrase: secret source: use env:NAME"},
		{"sign: literal PIN", sign("docker.io/alice/nginx", "targets/me", "--pin", "hunter2"), "--pin: secret source: use env:NAME"},
		{"validate: short GUN", append([]string{"validate", "--gun", "alice/nginx", "--tag", "v1", "--image", "x"}, server...), `--gun: GUN "alice/nginx" is not fully qualified`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := ceremony(t, nil, tc.args...)
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) || strings.Contains(r.stderr, "hunter2") {
				t.Fatalf("exit %d, stderr %q\nwant exit 2 and one line with %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

package config

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

const contract = `hsm:   {module: /usr/lib/softhsm/libsofthsm2.so, token: ceremony, pin: env:CEREMONY_PIN}
ca:    {label: ca, key: ecdsa-p256, subject: "CN=Docker Notary CA", days: 7300}
root:  {label: root, key: ecdsa-p256, days: 365}
repositories:
  - {gun: docker.io/alice/nginx, days: 375}
notary:
  url: https://127.0.0.1:4443
  tls_ca: server-ca.pem
  trust_dir: ./trust
  targets_passphrase: env:NOTARY_TARGETS_PASSPHRASE
  snapshot_passphrase: env:NOTARY_SNAPSHOT_PASSPHRASE
delegations:
  - {gun: docker.io/alice/nginx, role: targets/me, cert: me.crt, paths: all}
output: ./ceremony-out
`

func contractDir(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range []string{"server-ca.pem", "me.crt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestContract(t *testing.T) {
	dir := contractDir(t)
	c, err := Parse([]byte(contract), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.HSM.Token != "ceremony" || c.CA.Key != "ecdsa-p256" || c.CA.Days != 7300 || c.Root.Days != 365 ||
		len(c.Repositories) != 1 || c.Repositories[0].GUN != "docker.io/alice/nginx" || c.Notary == nil ||
		!c.Delegations[0].Paths.All || c.Delegations[0].Role != "targets/me" {
		t.Fatalf("parsed %+v", c)
	}
	if c.OutputDir() != filepath.Join(dir, "ceremony-out") {
		t.Fatalf("output %s is not resolved against the config's directory", c.OutputDir())
	}
	if !strings.HasPrefix(c.Digest, "sha256:") || len(c.Digest) != 71 {
		t.Fatalf("digest %q", c.Digest)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\n"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.HSM.Module != "/usr/lib/softhsm/libsofthsm2.so" || c.CA.Label != "ca" || c.CA.Subject != "CN=Docker Notary CA" ||
		c.CA.Days != 7300 || c.Root.Label != "root" || c.Root.Days != 365 || c.Repositories[0].Days != 375 || c.Output != "./ceremony-out" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestInvalid(t *testing.T) {
	base := "hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", base + "colour: red\n", []string{`line 3: unknown key "colour"; the keys here are hsm, ca, root`}},
		{"two documents", base + "---\nhsm: {}\n", []string{"more than one YAML document"}},
		{"empty", "", []string{"empty"}},
		{"literal PIN", "hsm: {token: t, pin: '1234'}\nrepositories: [{gun: docker.io/a/b}]\n", []string{"hsm.pin"}},
		{"everything wrong at once",
			"hsm: {pin: env:P}\nca: {key: dsa-1024, days: 0}\nroot: {label: ca, days: 99999}\nrepositories: [{gun: 'Docker.io/a b'}, {gun: docker.io/a/x, days: -1}]\n",
			[]string{"hsm.token: missing", "ca.key: unknown key type", "root.label: \"ca\" is ca's label too", "root.days: 99999", "repositories[0].gun", "repositories[1].days: -1"}},
		{"no repositories", "hsm: {token: t, pin: env:P}\n", []string{"repositories: none"}},
		{"duplicate gun", "hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}, {gun: docker.io/a/b}]\n", []string{"listed twice"}},
		{"root subject", base + "root: {subject: CN=x}\n", []string{"root.subject"}},
		{"bad ca subject", base + "ca: {subject: 'XX=y'}\n", []string{"ca.subject"}},
		{"http notary", base + "notary: {url: 'http://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\n", []string{`notary.url: notary server URL "http://x" is not https`}},
		{"notary missing fields", base + "notary: {url: 'https://x', tls_ca: nope.pem}\n", []string{"notary.tls_ca", "notary.trust_dir: missing"}},
		{"delegation without notary", base + "delegations: [{gun: docker.io/a/b, role: targets/me, cert: me.crt, paths: all}]\n", []string{"need a notary section"}},
		{"bad delegation", base + "notary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\n" +
			"delegations: [{gun: docker.io/other, role: me, cert: nope.crt, paths: []}]\n",
			[]string{"delegations[0].gun", `delegations[0].role: role "me" is not a delegation role: delegation roles start with targets/`, "delegations[0].cert", "delegations[0].paths"}},
		{"roles notary refuses", base + "notary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\n" +
			"delegations: [{gun: docker.io/a/b, role: targets/Me, cert: me.crt, paths: all}, {gun: docker.io/a/b, role: targets/a.b, cert: me.crt, paths: all}, {gun: docker.io/a/b, role: targets/team/me, cert: me.crt, paths: all}]\n",
			[]string{`delegations[0].role: role "targets/Me" is not a delegation role: notary refuses uppercase; write it as "targets/me"`,
				`delegations[1].role: role "targets/a.b" is not a delegation role: it contains '.'`,
				`delegations[2].role: role "targets/team/me" is nested under targets/team`}},
		{"GUNs docker refuses", "hsm: {token: t, pin: env:P}\nrepositories: [{gun: 'docker.io/a/b:latest'}, {gun: alice/nginx}, {gun: 'docker.io/a/b@sha256:" + strings.Repeat("ab", 32) + "'}, {gun: docker.io/a/" + strings.Repeat("b", 60) + "}]\n",
			[]string{`repositories[0].gun: GUN "docker.io/a/b:latest" names a tag`, `repositories[1].gun: GUN "alice/nginx" is not fully qualified; docker names this repository "docker.io/alice/nginx"`,
				"repositories[2].gun: GUN \"docker.io/a/b@sha256:", "names a digest", "repositories[3].gun: GUN \"docker.io/a/bbb", "is 72 characters"}},
		{"notary url with a path", base + "notary: {url: 'https://x:4443/v2/', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\n",
			[]string{`notary.url: notary server URL "https://x:4443/v2/" has a path; notary adds /v2/<gun>/... itself: write it as "https://x:4443"`}},
		{"ca subject too long", base + "ca: {subject: 'CN=" + strings.Repeat("x", 65) + "'}\n", []string{"ca.subject: ", "CN is 65 characters; X.509 allows at most 64"}},
		{"witnesses", base + "witnesses: [{role: auditor, key_id: sha256:abc}, {name: Bo, key: me.crt, key_id: 'sha256:" + strings.Repeat("0", 64) + "'}, {name: Cy, key: nope.pem}, {name: Di, key: me.crt}]\n",
			[]string{"witnesses[0].name: missing", `witnesses[0]: key_id "sha256:abc": write it as sha256: and 64 lowercase hex digits`,
				"witnesses[1]: give exactly one of key", "witnesses[2]: key: stat", "witnesses[3]: key me.crt: no PEM block"}},
		{"a role twice", base + "notary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\n" +
			"delegations: [{gun: docker.io/a/b, role: targets/me, cert: me.crt, paths: all}, {gun: docker.io/a/b, role: targets/me, cert: me.crt, paths: all}]\n",
			[]string{"delegations[1]: targets/me of docker.io/a/b is delegations[0] already"}},
		{"docker signer with some paths", base + "notary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\n" +
			"delegations: [{gun: docker.io/a/b, role: targets/me, cert: me.crt, paths: [v1/], docker: true}, {gun: docker.io/a/b, role: targets/releases, cert: me.crt, paths: [v2/]}]\n",
			[]string{"delegations[0].paths: targets/me puts the key in targets/releases, which docker's signers share with every path: give paths: all",
				"delegations[1].paths: targets/releases puts the key in targets/releases"}},
		{"docker signer with a bad role", base + "notary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\n" +
			"delegations: [{gun: docker.io/a/b, role: targets/team/me, cert: me.crt, paths: all, docker: true}]\n",
			[]string{`delegations[0].role: role "targets/team/me" is nested under targets/team`}},
		{"paths word", base + "notary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\n" +
			"delegations: [{gun: docker.io/a/b, role: targets/me, cert: me.crt, paths: some}]\n", []string{"paths must be \"all\""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), contractDir(t))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "1234") {
				t.Errorf("error echoes a literal PIN: %v", err)
			}
		})
	}
}

func TestRelativeSecretFiles(t *testing.T) {
	dir := t.TempDir()
	c, err := Parse([]byte("hsm: {token: t, pin: file:pin.txt}\nrepositories: [{gun: docker.io/a/b}]\n"+
		"notary: {url: 'https://x', trust_dir: t, targets_passphrase: file:sub/t.txt, snapshot_passphrase: env:S}\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.HSM.PIN != "file:"+filepath.Join(dir, "pin.txt") || c.Notary.TargetsPassphrase != "file:"+filepath.Join(dir, "sub/t.txt") || c.Notary.SnapshotPassphrase != "env:S" {
		t.Fatalf("secret sources: %q %q %q", c.HSM.PIN, c.Notary.TargetsPassphrase, c.Notary.SnapshotPassphrase)
	}
}

func TestSecretInComment(t *testing.T) {
	base := "hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\n"
	for in, bad := range map[string]bool{
		"# token PIN is 123456\n" + base:                                                 true,
		base + "# passphrase: hunter22\n":                                                true,
		"hsm: {token: t, pin: env:P} # pin=9876\nrepositories: [{gun: docker.io/a/b}]\n": true,
		"# the PIN comes from env:P\n" + base:                                            false,
		"# ceremony 2026, PIN entered by the officer\n" + base:                           false,
	} {
		_, err := Parse([]byte(in), t.TempDir())
		if (err != nil) != bad {
			t.Errorf("%q: %v", in, err)
		}
		if err != nil && (strings.Contains(err.Error(), "123456") || strings.Contains(err.Error(), "hunter22")) {
			t.Errorf("error echoes the secret: %v", err)
		}
	}
}

// TestWitnesses: declared witnesses are recorded by name, role and the key ID
// their signatures will carry, whether given as a key file or a key ID.
func TestWitnesses(t *testing.T) {
	dir := t.TempDir()
	key, err := keyspec.ECDSAP256.Throwaway()
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	os.WriteFile(filepath.Join(dir, "ann.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	id, _ := keyspec.KeyID(key.Public())
	other := "sha256:" + strings.Repeat("1", 64)
	c, err := Parse([]byte("hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\noperator: Olga\n"+
		"witnesses: [{name: Ann, role: auditor, key: ann.pub}, {name: Bob, key_id: '"+other+"'}]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := c.WitnessRecords()
	if err != nil || len(recs) != 2 || recs[0]["keyId"] != id || recs[0]["role"] != "auditor" || recs[1]["keyId"] != other || c.Operator != "Olga" {
		t.Fatalf("witnesses %v, %v; operator %q", recs, err, c.Operator)
	}
	_, err = Parse([]byte("hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\n"+
		"witnesses: [{name: Ann, key: ann.pub}, {name: Ann again, key_id: '"+id+"'}]\n"), dir)
	if err == nil || !strings.Contains(err.Error(), "witnesses[1]: the same key as witnesses[0]") {
		t.Fatalf("a key declared twice: %v", err)
	}
}

// TestDelegationRoles: a docker signer's key goes in targets/releases and
// its own role, as docker trust signer add puts it; the YAML says so with
// docker: true or the role targets/releases.
func TestDelegationRoles(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{"{gun: docker.io/alice/nginx, role: targets/me, cert: me.crt, paths: all}", "targets/me"},
		{"{gun: docker.io/alice/nginx, role: targets/me, cert: me.crt, paths: [v1/]}", "targets/me"},
		{"{gun: docker.io/alice/nginx, role: targets/me, cert: me.crt, paths: all, docker: true}", "targets/releases targets/me"},
		{"{gun: docker.io/alice/nginx, role: targets/releases, cert: me.crt, paths: all}", "targets/releases"},
	} {
		t.Run(tc.entry, func(t *testing.T) {
			raw := strings.Replace(contract, "{gun: docker.io/alice/nginx, role: targets/me, cert: me.crt, paths: all}", tc.entry, 1)
			c, err := Parse([]byte(raw), contractDir(t))
			if err != nil {
				t.Fatal(err)
			}
			roles, err := c.Delegations[0].Roles()
			if err != nil || strings.Join(roles, " ") != tc.want {
				t.Fatalf("roles %q, %v; want %q", roles, err, tc.want)
			}
		})
	}
}

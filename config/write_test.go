package config

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

// full sets every key of the contract, so that a field Marshal forgets
// fails TestMarshalRoundTrip (TestFullSetsEveryField keeps it honest).
const full = `hsm: {module: ./lib/libvendor.so, token: ceremony, serial: 0123abcd, pin: file:secrets/pin.txt}
ca: {label: "root CA #1", key: rsa-4096, subject: 'CN=Docker Notary CA,OU=Example\, Inc.,C=DE', days: 7000}
root: {label: root, key: ecdsa-p384, days: 300}
transcript: {label: transcript, key: rsa-3072, days: 3000}
repositories:
  - {gun: docker.io/alice/nginx, days: 375}
  - {gun: registry.example.com:5000/team/app, days: 30}
notary:
  url: https://notary.example.com:4443
  tls_ca: server-ca.pem
  trust_dir: ./trust
  targets_key: {label: targets, key: ecdsa-p256}
  targets_passphrase: env:NOTARY_TARGETS_PASSPHRASE
  snapshot_passphrase: file:/run/secrets/snapshot
  auth: env:NOTARY_AUTH
delegations:
  - {gun: docker.io/alice/nginx, role: targets/me, cert: me.crt, paths: all, docker: true}
  - {gun: registry.example.com:5000/team/app, role: targets/ci, cert: me.crt, paths: [release/, "v1: beta/"]}
output: ./ceremony-out
operator: "Olga O'Neil"
witnesses:
  - {name: Ann, role: auditor, key: ann.pub}
  - {name: "yes", key_id: "sha256:1111111111111111111111111111111111111111111111111111111111111111"}
training: true
`

func writeDir(t *testing.T) string {
	t.Helper()
	dir := contractDir(t)
	key, err := keyspec.ECDSAP256.Throwaway()
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	if err := os.WriteFile(filepath.Join(dir, "ann.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func parseOK(t *testing.T, raw []byte, dir string) *Config {
	t.Helper()
	c, err := Parse(raw, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	c.Digest, c.Raw = "", nil
	return c
}

func TestMarshalRoundTrip(t *testing.T) {
	tests := []struct{ name, yaml string }{
		{"contract", contract},
		{"full", full},
		{"minimal", "hsm: {token: t}\nrepositories: [{gun: docker.io/a/b}]\n"},
		{"words YAML would retype", "hsm: {token: 'null', pin: env:P}\nca: {label: 'yes', subject: 'CN=123'}\nroot: {label: '0x10'}\ntranscript: {label: '~'}\n" +
			"repositories: [{gun: docker.io/a/b}]\noperator: 'a: b # c'\noutput: 'out dir'\n"},
		{"prompted secrets", "hsm: {token: t, pin: prompt}\nrepositories: [{gun: docker.io/a/b}]\n" +
			"notary: {url: 'https://x', trust_dir: t, targets_passphrase: prompt, snapshot_passphrase: ''}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t)
			c := parseOK(t, []byte(tc.yaml), dir)
			out, err := Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			back := parseOK(t, out, dir)
			if !reflect.DeepEqual(c, back) {
				t.Fatalf("Parse(Marshal(c)) != c\nwritten:\n%s\nc:    %+v\nback: %+v", out, c, back)
			}
			// Marshal is a function of the config alone.
			again, _ := Marshal(back)
			if string(again) != string(out) {
				t.Fatalf("Marshal is not stable:\n%s\n---\n%s", out, again)
			}
		})
	}
}

// TestFullSetsEveryField: the full case above leaves no field of Config at
// its zero value, so TestMarshalRoundTrip covers every field Marshal must
// write; a new Config field fails here until both learn it.
func TestFullSetsEveryField(t *testing.T) {
	c := parseOK(t, []byte(full), writeDir(t))
	derived := map[string]bool{"Digest": true, "Raw": true, "File": true, "Dir": true, "dayProblems": true, "yamlProblems": true, "badFields": true}
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				t.Errorf("%s is nil in the full config", path)
				return
			}
			walk(path, v.Elem())
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[Paths]() {
				return // All and List exclude each other; both delegations cover them
			}
			for i := 0; i < v.NumField(); i++ {
				f := v.Type().Field(i)
				if derived[f.Name] {
					continue
				}
				// Fixed subjects: the root's and the transcript's are refused.
				if (path == "Config.Root" || path == "Config.Transcript") && f.Name == "Subject" {
					continue
				}
				// The targets key gets no certificate: no subject, no days.
				if strings.HasSuffix(path, "TargetsKey") && (f.Name == "Subject" || f.Name == "Days") {
					continue
				}
				// A docker signer needs every path: the first delegation is one.
				if strings.Contains(path, "Delegations") && f.Name == "Docker" {
					continue
				}
				// Each witness gives a key or a key ID; the two cover both.
				if strings.Contains(path, "Witnesses") && (f.Name == "Key" || f.Name == "KeyID" || f.Name == "Role") {
					continue
				}
				walk(path+"."+f.Name, v.Field(i))
			}
		case reflect.Slice:
			if v.Len() == 0 {
				t.Errorf("%s is empty in the full config", path)
			}
			for i := 0; i < v.Len(); i++ {
				walk(path+"[]", v.Index(i))
			}
		default:
			if v.IsZero() {
				t.Errorf("%s is zero in the full config", path)
			}
		}
	}
	walk("Config", reflect.ValueOf(c))
}

func TestMarshalReadable(t *testing.T) {
	c := parseOK(t, []byte(contract), writeDir(t))
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Ceremony config", "hsm:\n  module: /usr/lib/softhsm/libsofthsm2.so\n  token: ceremony\n  pin: env:CEREMONY_PIN\n",
		"repositories:\n  - gun: docker.io/alice/nginx\n    days: 375\n", "    paths: all\n", "output: ./ceremony-out\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("written config lacks %q:\n%s", want, out)
		}
	}
}

// TestRebase: a config read in one directory and written in another names
// the same files.
func TestRebase(t *testing.T) {
	from := writeDir(t)
	c := parseOK(t, []byte(full), from)
	to := t.TempDir()
	paths := func(c *Config) []string {
		return []string{c.HSM.Module, c.HSM.PIN, c.Path(c.Notary.TLSCA), c.Path(c.Notary.TrustDir), c.Notary.SnapshotPassphrase,
			c.Path(c.Delegations[0].Cert), c.OutputDir(), c.Path(c.Witnesses[0].Key)}
	}
	want := paths(c)
	c.Rebase(to)
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back := parseOK(t, out, to)
	if got := paths(back); !reflect.DeepEqual(got, want) {
		t.Fatalf("rebased paths\n got %q\nwant %q", got, want)
	}
	// Beside the original, relative paths stay relative.
	c = parseOK(t, []byte(full), from)
	sub := filepath.Join(from, "sub")
	c.Rebase(from)
	if c.Notary.TrustDir != "./trust" || c.Delegations[0].Cert != "me.crt" || c.Output != "./ceremony-out" {
		t.Fatalf("rebase in place changed paths: %+v %+v %q", c.Notary, c.Delegations[0], c.Output)
	}
	c.Rebase(sub)
	if c.Notary.TrustDir != filepath.Join(from, "trust") {
		t.Fatalf("a path above the new directory: %q", c.Notary.TrustDir)
	}
}

func TestTemplate(t *testing.T) {
	c := Template()
	c.HSM.Token = "t"
	c.Repositories = []Repository{{GUN: "docker.io/a/b", Days: DefaultRepoDays}}
	c.Dir = t.TempDir()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back := parseOK(t, out, c.Dir)
	back.Dir, c.Dir = "", ""
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("template round trip:\n%s\n%+v\n%+v", out, c, back)
	}
}

// TestProblems: Validate's report splits into field errors whose text is
// the report's lines.
func TestProblems(t *testing.T) {
	_, err := Parse([]byte("hsm: {pin: '1234'}\nca: {days: 0}\nroot: {days: 99999}\nrepositories: [{gun: Docker.io/a/b}]\n"), t.TempDir())
	ps := Problems(err)
	var fields, lines []string
	for _, p := range ps {
		fields = append(fields, p.Field)
		lines = append(lines, p.Error())
	}
	if want := []string{"hsm.token", "hsm.pin", "ca.days", "root.days", "repositories[0].gun"}; !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields %q, want %q", fields, want)
	}
	if strings.Join(lines, "\n") != err.Error() {
		t.Fatalf("problems %q\nreport %q", lines, err)
	}
}

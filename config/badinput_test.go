package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBadValues: each mistake an operator makes in the YAML is one line
// that names it and the fix, and nothing is silently turned into something
// else (1.5 days into 1, days: 0 into the default).
func TestBadValues(t *testing.T) {
	base := "hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"typo in a section key", base + "ca: {lable: x}\n", `line 3: unknown key "lable" (did you mean "label"?); the keys here are label, key, subject, days`},
		{"typo at the top", base + "repositores: []\n", `line 3: unknown key "repositores" (did you mean "repositories"?)`},
		{"typo in hsm", "hsm: {token: t, pin: env:P, serail: 1}\nrepositories: [{gun: docker.io/a/b}]\n", `line 1: unknown key "serail" (did you mean "serial"?)`},
		{"word for a number", base + "ca: {days: ten}\n", `line 3: "ten" is not a whole number`},
		{"quoted number", base + "root: {days: '10'}\n", `line 3: "10" is not a whole number: write one, without quotes`},
		{"fraction", base + "ca: {days: 1.5}\n", "ca.days: 1.5 is not a whole number of days"},
		{"exponent", base + "root: {days: 1e3}\n", "root.days: 1e3 is not a whole number of days"},
		{"repository days fraction", "hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b, days: 0.5}]\n", "repositories[0].days: 0.5 is not a whole number of days"},
		{"zero days", base + "transcript: {days: 0}\n", "transcript.days: 0 days: give the validity in days (1 or more), or leave days out for the default"},
		{"negative days", base + "root: {days: -5}\n", "root.days: -5 days is out of range 1..3650"},
		{"negative CA days, one line", base + "ca: {days: -5}\n", "ca.days: -5 days is out of range 1..9132"},
		{"huge number", base + "ca: {days: 99999999999999999999}\n", "ca.days: 99999999999999999999 is too large: days must be between 1 and 9132"},
		{"huge negative number", base + "ca: {days: -99999999999999999999}\n", "ca.days: -99999999999999999999 is too small: days must be between 1 and 9132"},
		{"just past an int", base + "root: {days: 9223372036854775808}\n", "root.days: 9223372036854775808 is too large: days must be between 1 and 3650"},
		{"huge transcript days", base + "transcript: {days: 1_000_000_000_000_000_000_000}\n", "transcript.days: 1_000_000_000_000_000_000_000 is too large: days must be between 1 and 9132"},
		{"huge repository days", "hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b, days: 0x1ffffffffffffffff}]\n", "repositories[0].days: 0x1ffffffffffffffff is too large: days must be between 1 and 3650"},
		{"huge targets key days", base + "notary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B, targets_key: {label: tk, days: 99999999999999999999}}\n", "notary.targets_key: only label and key apply (no certificate is made for it)"},
		{"list for a section", base + "ca: [x]\n", "line 3: a list where a Key section belongs"},
		{"mapping for a string", "hsm: {token: {a: b}, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\n", "line 1: a mapping where a string (quote it) belongs"},
		{"a key twice", base + "ca: {label: a}\nca: {label: b}\n", `line 4: mapping key "ca" already defined at line 3: keep one of them`},
		{"label with a newline", base + "ca: {label: \"ca\\nroot\"}\n", `ca.label: label "ca\nroot" holds the unprintable character U+000A`},
		{"label with an escape", base + "root: {label: \"r\\e[31m\"}\n", `root.label: label "r\x1b[31m" holds the unprintable character U+001B`},
		{"token label with a newline", "hsm: {token: \"a\\nb\", pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\n", `hsm.token: label "a\nb" holds the unprintable character U+000A`},
		{"witness name blank", base + "witnesses: [{name: ' ', key_id: 'sha256:" + strings.Repeat("0", 64) + "'}]\n", "witnesses[0].name: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), t.TempDir())
			if tc.want == "" {
				if err != nil && strings.Contains(err.Error(), "\n") {
					t.Fatalf("more than one line: %q", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want && !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse = %v\nwant %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("one mistake, several lines: %q", err)
			}
		})
	}
}

// TestBadPaths: a file the config names is a readable regular file; a
// directory, FIFO, device, missing file or dangling symlink is refused with
// the path and the problem, and nothing blocks or reads forever.
func TestBadPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("ca.pem", "x")
	link := filepath.Join(dir, "link.pem")
	dangling := filepath.Join(dir, "dangling.pem")
	fifo := filepath.Join(dir, "fifo")
	for _, err := range []error{os.Symlink(good, link), os.Symlink(filepath.Join(dir, "gone"), dangling), syscall.Mkfifo(fifo, 0o600), os.Mkdir(filepath.Join(dir, "sub"), 0o755)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	base := "hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\nnotary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B, tls_ca: %s}\n"
	for _, tc := range []struct{ name, path, want string }{
		{"symlink to a file", link, ""},
		{"missing", filepath.Join(dir, "nope.pem"), "notary.tls_ca: stat " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"dangling symlink", dangling, "notary.tls_ca: stat " + dangling + ": no such file or directory"},
		{"directory", filepath.Join(dir, "sub"), "notary.tls_ca: " + filepath.Join(dir, "sub") + " is a directory; give a file"},
		{"FIFO", fifo, "notary.tls_ca: " + fifo + " is a FIFO, not a regular file; give a file"},
		{"device", "/dev/zero", "notary.tls_ca: /dev/zero is a device, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(strings.Replace(base, "%s", tc.path, 1)), dir)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Parse = %v\nwant one line starting %q", err, tc.want)
			}
		})
	}
	// A witness key is read: /dev/zero would never end.
	_, err := Parse([]byte("hsm: {token: t, pin: env:P}\nrepositories: [{gun: docker.io/a/b}]\nwitnesses: [{name: w, key: /dev/zero}]\n"), dir)
	if err == nil || !strings.Contains(err.Error(), "witnesses[0]: key: /dev/zero is a device, not a regular file") {
		t.Fatalf("witness key /dev/zero: %v", err)
	}
	// The config itself.
	for path, want := range map[string]string{
		fifo:                       "is a FIFO, not a regular file",
		filepath.Join(dir, "sub"):  "is a directory",
		"/dev/zero":                "is a device, not a regular file",
		filepath.Join(dir, "nope"): "no such file or directory",
		write("big.yaml", strings.Repeat("#\n", maxFile)): "is over 1048576 bytes; is it the right file?",
	} {
		if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), "read config: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%s) = %v, want %q", path, err, want)
		}
	}
}

// TestEveryProblemInOneRun: what the YAML parser refuses (an unknown key,
// a wrong type) is listed with the field checks of the rest of the file,
// so one run names every mistake; a field whose problem the parser named
// is not named twice ("missing" after a misspelt or mistyped key).
func TestEveryProblemInOneRun(t *testing.T) {
	repo := "repositories: [{gun: docker.io/a/b}]\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // each line of the report contains one, in order
	}{
		{"unknown key and a bad GUN", "hsm: {token: t, pin: env:P}\nrepositories: [{gun: Docker.io/a/b}]\ncolour: red\n",
			[]string{`line 3: unknown key "colour"; the keys here are hsm,`, `repositories[0].gun: GUN "Docker.io/a/b" has uppercase letters`}},
		{"unknown key and days out of range", "hsm: {token: t, pin: env:P}\n" + repo + "ca: {lable: x, days: 100000}\n",
			[]string{`line 3: unknown key "lable" (did you mean "label"?)`, "ca.days: 100000 days is out of range 1..9132"}},
		{"misspelt key is not also missing", "hsm: {tokn: t, pin: '1234'}\n" + repo,
			[]string{`line 1: unknown key "tokn" (did you mean "token"?)`, "hsm.pin: secret source: use env:NAME, file:PATH or prompt"}},
		{"wrong type is not also missing", "hsm: {token: {a: b}, pin: env:P}\n" + repo + "root: {key: ed448}\n",
			[]string{"line 1: a mapping where a string (quote it) belongs", `root.key: unknown key type "ed448"`}},
		{"a word for days and a bad label", "hsm: {token: t, pin: env:P}\n" + repo + "ca: {days: ten, label: \" ca\"}\n",
			[]string{`line 3: "ten" is not a whole number`, `ca.label: label " ca" has surrounding spaces`}},
		{"a mapping for the repositories", "hsm: {token: t, pin: env:P}\nrepositories: {gun: docker.io/a/b}\noutput: ''\nroot: {days: 0}\n",
			[]string{"line 2: a mapping where a list belongs", "root.days: 0 days"}},
		{"huge days and an unknown key", "hsm: {token: t, pin: env:P}\n" + repo + "ca: {days: 99999999999999999999}\nroot: {dayz: 5}\n",
			[]string{`line 4: unknown key "dayz" (did you mean "days"?)`, "ca.days: 99999999999999999999 is too large: days must be between 1 and 9132"}},
		{"bad paths and a bad role", "hsm: {token: t, pin: env:P}\n" + repo + "notary: {url: 'https://x', trust_dir: t, targets_passphrase: env:A, snapshot_passphrase: env:B}\ndelegations: [{gun: docker.io/a/b, role: Targets/x, cert: c.pem, paths: some}]\n",
			[]string{`line 4: paths must be "all" or a list of path prefixes, not "some"`, "delegations[0].role: role", "delegations[0].cert: stat"}},
		{"a key twice in a section and a bad GUN", "hsm: {token: t, pin: env:P}\nrepositories: [{gun: Docker.io/a/b}]\nca: {label: a, label: b}\n",
			[]string{`line 3: mapping key "label" already defined at line 3: keep one of them`, `repositories[0].gun: GUN "Docker.io/a/b"`}},
		{"a secret in a comment and a bad GUN", "hsm: {token: t, pin: env:P} # PIN: 123456\nrepositories: [{gun: Docker.io/a/b}]\n",
			[]string{"line 1: a comment seems to hold a PIN or passphrase", `repositories[0].gun: GUN "Docker.io/a/b"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), t.TempDir())
			if err == nil {
				t.Fatal("accepted")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d: %q\nwant it to hold %q", i+1, lines[i], w)
				}
			}
		})
	}
}

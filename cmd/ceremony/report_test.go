package main

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/ceremony-dev/ceremony/audit/audittest"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/ui"
)

// TestReport runs one whole ceremony (Notary, declared witnesses, Alice
// signed, Bob not) and has `ceremony report` write its record as an auditor
// would: verified, doctored, into files, and with bad arguments.
func TestReport(t *testing.T) {
	t.Parallel()
	c := audittest.Run(t)
	sum := sha256.Sum256(c.CA.Raw)
	words := ui.PGPWords(sum[:])
	caFingerprint := "`" + steps.Fingerprint(c.CA.Raw) + "`\n  - read aloud: *" + words[0] + " " + words[1] + " · " + words[2] + " " + words[3] + " · "

	t.Run("markdown", func(t *testing.T) {
		t.Parallel()
		r := ceremony(t, nil, "report", c.Transcript, "--ca", c.CAFile, "--artifacts", c.Out)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("report: exit %d\n%s", r.code, r.stderr)
		}
		for _, want := range []string{
			"> **✓ Verification passed: all 7 checks hold.**",
			"No exceptions: every planned step was done on its first attempt",
			"- **Operator:** Olivia",
			"| 0 | Preflight (`preflight`) | done | 1 |",
			"(`notary-init:" + audittest.GUN + "`) | done | 1 |",
			"### ca.pem", caFingerprint,
			"- **Token attributes:** sensitive, always sensitive, never extractable, generated on the token (local)",
			"### " + audittest.GUN, "- **Offline check:** passed: notary's client check, with the CA pinned, accepts the recorded root.json",
			"| Alice | auditor |", "| Bob | security officer |", "| **⚠ has not signed** |",
			"> I watched every step; the script was followed.",
			"| 6 | artifacts | pass |",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("report lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("html file", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "report.html")
		r := ceremony(t, nil, "report", c.Transcript, "--ca", c.CAFile, "-o", out)
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("report -o: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		page := readPage(t, out)
		for _, want := range []string{"<!DOCTYPE html>", "✓ Verification passed", strings.Fields(steps.Fingerprint(c.CA.Raw))[0]} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", out, want)
			}
		}
		// -o never writes over a file, even its own report in another format.
		r = ceremony(t, nil, "report", c.Transcript, "--ca", c.CAFile, "--format", "md", "-o", out)
		if r.code != 1 || !strings.Contains(r.stderr, "never overwritten") || readPage(t, out) != page {
			t.Fatalf("report over an existing file: exit %d, %s", r.code, r.stderr)
		}
	})
	t.Run("fails", func(t *testing.T) { t.Parallel(); reportFails(t, c) })
	t.Run("usage", func(t *testing.T) { t.Parallel(); reportUsage(t, c) })
}

// reportFails: a transcript that does not verify still gets its report,
// which says so first; the command exits 1 with one line on stderr.
func reportFails(t *testing.T, c *audittest.Ceremony) {
	otherCA, _ := audittest.OtherCA(t)
	otherCAFile := audittest.WriteTemp(t, "other-ca.pem", pki.CertPEM(otherCA))
	data := audittest.Read(t, c.Transcript)
	torn := audittest.WriteTemp(t, "transcript.intoto.jsonl", data[:len(data)-40])
	for _, tc := range []struct {
		name       string
		transcript string
		args       []string
		want       []string
	}{
		{"another CA", c.Transcript, []string{"--ca", otherCAFile}, []string{
			"> **✗ VERIFICATION FAILED: do not rely on this record.**", "> **First failure:** ", "verifying against another CA",
			"| 1 | transcript | pass |", "| 2 | ca | **✗ FAIL (the first failure)** |"}},
		{"two witnesses required", c.Transcript, []string{"--ca", c.CAFile, "--require-witnesses", "2"}, []string{
			"> **✗ VERIFICATION FAILED", "| 7 | witnesses | **✗ FAIL (the first failure)** |", "not signed: Bob"}},
		// Nothing about the ceremony can be told: the report holds the checks.
		{"torn transcript", torn, []string{"--ca", c.CAFile}, []string{
			"> **✗ VERIFICATION FAILED", "torn last line", "sections 1 to 7 are left out", "| 1 | transcript | **✗ FAIL (the first failure)** |"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "report.md")
			r := ceremony(t, nil, append([]string{"report", tc.transcript, "-o", out}, tc.args...)...)
			if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "does not verify") {
				t.Fatalf("exit %d, stderr %q; want 1 and one line", r.code, r.stderr)
			}
			report := readPage(t, out)
			for _, want := range tc.want {
				if !strings.Contains(report, want) {
					t.Errorf("report lacks %q:\n%s", want, report)
				}
			}
		})
	}
}

func reportUsage(t *testing.T, c *audittest.Ceremony) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", c.Transcript}, "--ca is required"},
		{[]string{"report", "--ca", c.CAFile}, "report takes one transcript file, got 0"},
		{[]string{"report", c.Transcript, "--ca", c.CAFile, "--format", "pdf"}, `--format "pdf": use one of md, html`},
		{[]string{"report", filepath.Join(c.Out, "none"), "--ca", c.CAFile}, "no such file"},
		{[]string{"report", c.Transcript, "--ca", c.CAFile, "--colour"}, "unknown flag"},
	} {
		r := ceremony(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args[1:], r.code, r.stderr, tc.want)
		}
	}
}

// readPage reads a report file; an HTML one must parse.
func readPage(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".html") {
		if _, err := html.Parse(strings.NewReader(string(b))); err != nil {
			t.Fatal(err)
		}
	}
	return string(b)
}

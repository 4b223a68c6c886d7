package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/audit/audittest"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
)

// TestVerify runs one whole ceremony (with Notary and declared witnesses,
// Alice signed) and has `ceremony verify` check it untouched, doctored, and
// with bad arguments.
func TestVerify(t *testing.T) {
	t.Parallel()
	c := audittest.Run(t)
	t.Run("untouched", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{nil, {"--artifacts", c.Out}, {"--require-witnesses", "1"}} {
			r := ceremony(t, nil, append([]string{"verify", c.Transcript, "--ca", c.CAFile}, args...)...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("verify %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
			}
			repo := audittest.ReadCert(t, filepath.Join(c.Out, steps.RepoCertFile(audittest.GUN)))
			for _, want := range []string{"VERIFIED: every check holds", "operator Olivia", c.Token.Label, steps.Fingerprint(repo.Raw),
				"Alice", "declared", "notary-init:" + audittest.GUN, "sealed", "ok  certificates"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("verify %v output lacks %q:\n%s", args, want, r.stdout)
				}
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		r := ceremony(t, nil, "verify", c.Transcript, "--ca", c.CAFile, "--artifacts", c.Out, "--json")
		var res audit.Result
		if err := json.Unmarshal([]byte(r.stdout), &res); r.code != 0 || err != nil || !res.OK || len(res.Checks) != 7 || len(res.Witnesses) != 1 {
			t.Fatalf("verify --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
	})
	t.Run("usage", func(t *testing.T) { t.Parallel(); verifyUsage(t, c) })
	t.Run("tampered", func(t *testing.T) { t.Parallel(); verifyTampered(t, c) })
	t.Run("lines", func(t *testing.T) { t.Parallel(); verifyLines(t, c) })
}

func verifyUsage(t *testing.T, c *audittest.Ceremony) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", c.Transcript}, "--ca is required"},
		{[]string{"verify", "--ca", c.CAFile}, "verify takes one transcript file, got 0"},
		{[]string{"verify", c.Transcript, c.Transcript, "--ca", c.CAFile}, "got 2"},
		{[]string{"verify", c.Transcript, "--ca", c.Transcript}, "--ca " + c.Transcript},
		{[]string{"verify", c.Transcript, "--ca", c.CAFile, "--require-witnesses", "-1"}, "give a count"},
		{[]string{"verify", c.Transcript, "--ca", c.CAFile, "--artifacts", c.Transcript}, "not a directory"},
		{[]string{"verify", c.Transcript, "--ca", c.CAFile, "--colour"}, "unknown flag"},
		{[]string{"verify", filepath.Join(c.Out, "none"), "--ca", c.CAFile}, "no such file"},
	} {
		r := ceremony(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args[1:], r.code, r.stderr, tc.want)
		}
	}
}

// verifyTampered: each doctoring is caught with one clear line on stderr.
func verifyTampered(t *testing.T, c *audittest.Ceremony) {
	otherCA, _ := audittest.OtherCA(t)
	otherCAFile := audittest.WriteTemp(t, "other-ca.pem", pki.CertPEM(otherCA))
	for _, tc := range []struct {
		name   string
		doctor func(c *audittest.Ceremony) []string // changes the copy, returns extra arguments
		want   string
	}{
		{"another CA", func(*audittest.Ceremony) []string { return []string{"--ca", otherCAFile} },
			"verifying against another CA"},
		{"signer certificate from another CA", func(c *audittest.Ceremony) []string {
			audittest.Write(t, c.Transcript, audittest.SignerFromOtherCA(t, audittest.Read(t, c.Transcript)))
			return nil
		}, "line 5: transcript.pem (issuer CN=Other CA) was not issued by the CA given"},
		{"artifact changed", func(c *audittest.Ceremony) []string {
			audittest.Write(t, filepath.Join(c.Out, steps.RootCertFile), pki.CertPEM(otherCA))
			return []string{"--artifacts", c.Out}
		}, "root.crt in " + "OUT" + " has SHA-256"},
		{"witness signature over another transcript", func(c *audittest.Ceremony) []string {
			data := audittest.Read(t, c.Transcript)
			other := audittest.SignerFromOtherCA(t, data)
			audittest.Write(t, c.Transcript, append(data, audittest.WitnessLine(t, other, c.Bob, "Bob")...))
			return nil
		}, "line 14: witness line of another transcript"},
		{"two witnesses required", func(*audittest.Ceremony) []string { return []string{"--require-witnesses", "2"} },
			"2 declared witnesses must sign, 1 did: Alice; not signed: Bob (sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cp := c.Copy(t)
			args := append([]string{"verify", cp.Transcript, "--ca", cp.CAFile}, tc.doctor(cp)...)
			wantFails(t, args, strings.ReplaceAll(tc.want, "OUT", cp.Out))
		})
	}
}

// verifyLines: line-level tampering, through the binary (the transcript
// package tests each rule; this is the command's end of it).
func verifyLines(t *testing.T, c *audittest.Ceremony) {
	data := audittest.Read(t, c.Transcript)
	lines := audittest.Lines(data)
	n := len(lines) // the header … the seal, then Alice's witness line
	join := func(ls ...[]byte) []byte { return bytes.Join(ls, nil) }
	edit := func(i int, f func(string) string) [][]byte {
		out := append([][]byte{}, lines...)
		out[i] = []byte(f(string(lines[i])))
		return out
	}
	sigOf := func(line []byte) string {
		var env struct{ Signatures []struct{ Sig string } }
		json.Unmarshal(line, &env)
		return env.Signatures[0].Sig
	}
	for _, tc := range []struct {
		name  string
		lines [][]byte
		want  string
	}{
		{"one byte changed", edit(4, func(s string) string { return strings.Replace(s, "in-toto+json", "in-toto+jsoN", 1) }), "line 5: payloadType"},
		{"payload byte changed", edit(3, func(s string) string {
			i := strings.Index(s, `"payload":"`) + 40
			return s[:i] + string(s[i]^1) + s[i+1:]
		}), "line 4: "},
		{"line removed", append(append([][]byte{}, lines[:3]...), lines[4:]...), "line 4: prev does not match line 3"},
		{"lines reordered", append(append(append([][]byte{}, lines[:2]...), lines[3], lines[2]), lines[4:]...), "line 3: prev does not match line 2"},
		{"line duplicated", append(append([][]byte{}, lines[:4]...), lines[3:]...), "line 5: prev does not match line 4"},
		{"tail truncated", append(append([][]byte{}, lines[:n-1]...), lines[n-1][:40]), fmt.Sprintf("line %d: torn last line", n)},
		{"seal dropped", lines[:n-2], "not sealed: the ceremony did not finish"},
		{"signature removed", edit(5, func(s string) string {
			i, j := strings.Index(s, `"signatures":[`)+len(`"signatures":[`), strings.LastIndex(s, "]")
			return s[:i] + s[j:]
		}), "line 6: 0 signatures, want exactly one"},
		{"signature swapped", edit(5, func(s string) string { return strings.Replace(s, sigOf(lines[5]), sigOf(lines[6]), 1) }),
			"line 6: signature does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := audittest.WriteTemp(t, "transcript.intoto.jsonl", join(tc.lines...))
			wantFails(t, []string{"verify", path, "--ca", c.CAFile}, tc.want)
		})
	}
}

// wantFails runs verify and requires exit 1 with want in one stderr line.
func wantFails(t *testing.T, args []string, want string) {
	t.Helper()
	r := ceremony(t, nil, args...)
	if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stdout, "NOT VERIFIED") {
		t.Fatalf("exit %d, stderr %q\nwant 1 and one line with %q\n%s", r.code, r.stderr, want, r.stdout)
	}
}

// verifies requires the ceremony in out to pass `ceremony verify` with its
// files, against its own CA.
func verifies(t *testing.T, out string) {
	t.Helper()
	r := ceremony(t, nil, "verify", filepath.Join(out, "transcript.intoto.jsonl"), "--ca", filepath.Join(out, steps.CAFile), "--artifacts", out)
	if r.code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/audit/audittest"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/ui"
)

// TestReplay runs one whole ceremony (Notary, declared witnesses, Alice
// signed, Bob not) and replays its transcript: as lines (--plain, and
// whenever the output is not a terminal), as the full-screen model at 80×24
// and 120×40 against golden screens, and in a real terminal (tmux).
func TestReplay(t *testing.T) {
	t.Parallel()
	c := audittest.Run(t)

	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		r := ceremony(t, nil, "replay", c.Transcript, "--ca", c.CAFile, "--plain")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("replay --plain: exit %d\n%s", r.code, r.stderr)
		}
		for _, want := range []string{
			"✓ VERIFIED against ca.pem: every check holds",
			"== 1/10 · ≡ header · Transcript header", "Operator    Olivia",
			"== 3/10 · step 1 · ✓ done · Create the CA", "✓ verified (ca, certificates)",
			steps.Fingerprint(c.CA.Raw)[:39],
			"· ✓ done · Repository certificate for " + audittest.GUN, "subject  CN=" + audittest.GUN,
			"· ✓ done · Notary init " + audittest.GUN, "✓ verified (root.json)",
			"== 10/10 · ■ sealed · Seal and witnesses", "✓ Alice (auditor): signed", "✗ Bob (security officer): has not signed",
			`"I watched every step; the script was followed."`,
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("replay lacks %q:\n%s", want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "\x1b") || strings.Contains(r.stdout, "TRAINING") {
			t.Error("plain replay of a production ceremony has escapes or says TRAINING")
		}
		// Output that is not a terminal gets the same lines without --plain.
		if again := ceremony(t, nil, "replay", c.Transcript, "--ca", c.CAFile); again.stdout != r.stdout {
			t.Error("replay into a pipe differs from --plain")
		}
	})
	t.Run("without a CA", func(t *testing.T) {
		t.Parallel()
		r := ceremony(t, nil, "replay", c.Transcript, "--plain")
		if r.code != 0 || !strings.Contains(r.stdout, "⚠ UNVERIFIED (no --ca)") || !strings.Contains(r.stdout, "? signed, not anchored: no --ca given") ||
			strings.Contains(r.stdout, "✓ verified") {
			t.Fatalf("replay without --ca: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("unfinished", func(t *testing.T) {
		t.Parallel()
		// The transcript up to the step before the seal, as a ceremony
		// killed there leaves it, with half a line torn off the end.
		data, err := os.ReadFile(c.Transcript)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		entries, err := transcript.ReadPrefix(c.Transcript)
		if err != nil {
			t.Fatal(err)
		}
		seal := slices.IndexFunc(entries, func(e transcript.Entry) bool { return e.Kind == transcript.KindSeal })
		if seal < 2 {
			t.Fatalf("no seal in %d entries", len(entries))
		}
		cut := strings.Join(lines[:seal-1], "") + lines[seal-1][:40]
		r := ceremony(t, nil, "replay", audittest.WriteTemp(t, "transcript.intoto.jsonl", []byte(cut)), "--ca", c.CAFile, "--plain")
		for _, want := range []string{"✗ NOT VERIFIED against ca.pem", "the ceremony did not finish",
			"· ✓ done · Create the CA", "✓ verified (ca, certificates)", "· ✓ done · Repository certificate for " + audittest.GUN, "NO SEAL"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("replay of an unfinished ceremony lacks %q:\n%s", want, r.stdout)
			}
		}
		if r.code != 1 {
			t.Errorf("exit %d, want 1: it does not verify", r.code)
		}
	})
	t.Run("another CA", func(t *testing.T) {
		t.Parallel()
		other, _ := audittest.OtherCA(t)
		r := ceremony(t, nil, "replay", c.Transcript, "--ca", audittest.WriteTemp(t, "other.pem", pki.CertPEM(other)), "--plain")
		if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "does not verify") ||
			!strings.Contains(r.stdout, "✗ NOT VERIFIED against other.pem: line 4: verifying against another CA") ||
			!strings.Contains(r.stdout, "✗ UNTRUSTED · Create the CA") {
			t.Fatalf("replay against another CA: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"replay"}, "replay takes one transcript file, got 0"},
			{[]string{"replay", filepath.Join(c.Out, "none")}, "no such file"},
			{[]string{"replay", c.Transcript, "--ca", filepath.Join(c.Out, "none.pem")}, "--ca"},
		} {
			if r := ceremony(t, nil, tc.args...); r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
			}
		}
	})
	t.Run("golden", func(t *testing.T) { t.Parallel(); replayGolden(t, c) })
	t.Run("tmux", func(t *testing.T) { t.Parallel(); replayTmux(t, c) })
}

// replayGolden renders the model of the real ceremony's replay after some
// keys. What differs from run to run (times, fingerprints, key IDs, the
// temporary paths and the token's label) is fixed or masked, lengths kept,
// so that the layout is what the golden file holds.
func replayGolden(t *testing.T, c *audittest.Ceremony) {
	res, err := audit.Verify(context.Background(), c.Transcript, audit.Options{CA: c.CA})
	if err != nil || !res.OK {
		t.Fatalf("verify: %v %+v", err, res)
	}
	res = stableResult(t, res, c)
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, tc := range []struct {
			name string
			keys []string
		}{{"header", nil}, {"ca", []string{"n", "n"}}, {"repository", []string{"end", "p", "p", "p", "p"}}, {"seal", []string{"end"}}} {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], tc.name), func(t *testing.T) {
				m := ui.NewReplay(res, ui.ReplayOptions{CA: "ca.pem"})
				m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
				for _, k := range tc.keys {
					code := rune(k[0])
					if k == "end" {
						code = tea.KeyEnd
					}
					m.Update(tea.KeyPressMsg{Code: code, Text: strings.TrimPrefix(k, "end")})
				}
				golden.RequireEqual(t, ansi.Strip(m.View().Content))
			})
		}
	}
}

// stableResult fixes what changes from run to run, keeping every length:
// paths, the token's label, dates and times, and every digest, key ID,
// serial and fingerprint (replaced by as many placeholder digits), in every
// string of the Result.
func stableResult(t *testing.T, res *audit.Result, c *audittest.Ceremony) *audit.Result {
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	tree = mapStrings(tree, func(s string) string {
		s = strings.ReplaceAll(s, c.Out, "/srv/ceremony-out")
		s = strings.ReplaceAll(s, c.Token.Label, "token")
		s = dateRE.ReplaceAllString(s, "2026-11-24")
		s = groupsRE.ReplaceAllStringFunc(s, func(g string) string { return regexp.MustCompile(`[0-9A-F]{4}`).ReplaceAllString(g, "ABCD") })
		return hexRE.ReplaceAllStringFunc(s, func(h string) string { return strings.Repeat("0123456789abcdef", 5)[:len(h)] })
	})
	if b, err = json.Marshal(tree); err != nil {
		t.Fatal(err)
	}
	var out audit.Result
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	// The host's clock and SoftHSM2's build are the machine's, not the test's.
	out.Ceremony.Clock = audit.Clock{Source: "tsc"}
	out.Ceremony.Token.Firmware, out.Ceremony.Module.Library = "2.6", "SoftHSM Implementation of PKCS11 2.6"
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	out.Ceremony.Started, out.Ceremony.Sealed = at, at.Add(time.Minute)
	for i := range out.Ceremony.Events {
		e := &out.Ceremony.Events[i]
		e.Started = at.Add(time.Duration(e.Line) * time.Second)
		if !e.Finished.IsZero() {
			e.Finished = e.Started
		}
	}
	for i := range out.Witnesses {
		out.Witnesses[i].Time = at.Add(time.Hour)
	}
	return &out
}

var (
	dateRE   = regexp.MustCompile(`\d{4}-\d\d-\d\d`)
	groupsRE = regexp.MustCompile(`\b[0-9A-F]{4}( [0-9A-F]{4})+\b`)
	hexRE    = regexp.MustCompile(`[0-9a-f]{7,}`)
)

// mapStrings applies f to every string in a decoded JSON tree.
func mapStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			x[i] = mapStrings(x[i], f)
		}
	case map[string]any:
		for k := range x {
			x[k] = mapStrings(x[k], f)
		}
	}
	return v
}

// replayTmux opens the replay in a real terminal at 80×24 with NO_COLOR
// set, steps with n, reads the screen, and quits with q.
func replayTmux(t *testing.T, c *audittest.Ceremony) {
	tmux := testenv.Tool(t, "tmux")
	sock := fmt.Sprintf("ceremony-replay-%d", os.Getpid())
	tm := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tm("-f", "/dev/null", "new-session", "-d", "-s", "replay", "-x", "80", "-y", "24")
	t.Cleanup(func() { exec.Command(tmux, "-L", sock, "kill-server").Run() })
	tm("set-option", "-t", "replay", "remain-on-exit", "on")
	// The shell says how the replay ended: tmux's pane_dead_status is not
	// always set by the time the pane is dead.
	tm("respawn-pane", "-k", "-t", "replay", "env", "NO_COLOR=1", "TERM=xterm-256color", "sh", "-c",
		`"$0" replay "$1" --ca "$2"; echo "replay exited $?"`, binary, c.Transcript, c.CAFile)
	screen := func() string { return tm("capture-pane", "-p", "-t", "replay") }
	first := waitFor(t, screen, "▶ ≡ header")
	if !strings.Contains(first, "✓ VERIFIED against ca.pem") || !strings.Contains(first, "Transcript header") {
		t.Fatalf("first screen:\n%s", first)
	}
	// One key at a time, each waited for: keys sent back to back may race
	// the first frame.
	for i, want := range []string{"▶ ✓ done      Preflight", "▶ ✓ done      Create the CA", "▶ ✓ done      Create the trans", "▶ ✓ done      Create the root"} {
		tm("send-keys", "-t", "replay", "n")
		s := waitFor(t, screen, want)
		if i == 1 && (!strings.Contains(s, "step 1 of 7 · ca") || !strings.Contains(s, "✓ verified (ca, certificates)")) {
			t.Fatalf("the CA's step:\n%s", s)
		}
	}
	if lines := strings.Split(strings.TrimRight(screen(), "\n"), "\n"); len(lines) != 24 {
		t.Errorf("%d lines on a 24-line terminal", len(lines))
	}
	// NO_COLOR: attributes (bold, reverse) stay, colours go.
	if styled := tm("capture-pane", "-e", "-p", "-t", "replay"); setsColour(styled) {
		t.Errorf("colours under NO_COLOR:\n%q", styled)
	}
	tm("send-keys", "-t", "replay", "q")
	// What the shell printed may have scrolled into the history.
	if end := waitFor(t, func() string { return tm("capture-pane", "-p", "-S", "-", "-t", "replay") }, "replay exited"); !strings.Contains(end, "replay exited 0") {
		t.Fatalf("after q:\n%s", end)
	}
}

// setsColour reports whether ANSI text sets a foreground or background
// colour (SGR 30–38, 40–48, 90–97, 100–107); 39 and 49, the defaults, do not.
func setsColour(s string) bool {
	for _, m := range regexp.MustCompile(`\x1b\[([0-9;:]*)m`).FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			var n int
			fmt.Sscan(p, &n)
			if n >= 30 && n <= 38 || n >= 40 && n <= 48 || n >= 90 && n <= 97 || n >= 100 && n <= 107 {
				return true
			}
		}
	}
	return false
}

package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// TestPINPromptIsMasked types the PIN at the masked prompt in a real terminal
// (tmux) and reads the screen: the prompt shows, the PIN never does, and the
// login works.
func TestPINPromptIsMasked(t *testing.T) {
	t.Parallel()
	tmux := testenv.Tool(t, "tmux")
	tok := testenv.NewToken(t)
	sock := "ceremony-test-" + tok.Label
	session := "pin"
	tm := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// remain-on-exit keeps the pane, and what the command printed, after it ends.
	tm("-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "200", "-y", "50")
	t.Cleanup(func() { exec.Command(tmux, "-L", sock, "kill-server").Run() })
	tm("set-option", "-t", session, "remain-on-exit", "on")
	tm("respawn-pane", "-k", "-t", session, "env", "SOFTHSM2_CONF="+testenvConf(t), binary, "hsm", "list", "--token", tok.Label, "--pin", "prompt")

	screen := waitFor(t, func() string { return tm("capture-pane", "-p", "-t", session) }, "PIN for token")
	if strings.Contains(screen, tok.PIN) {
		t.Fatalf("PIN visible before typing:\n%s", screen)
	}
	tm("send-keys", "-t", session, "-l", tok.PIN)
	tm("send-keys", "-t", session, "Enter")
	screen = waitFor(t, func() string { return tm("capture-pane", "-p", "-t", session) }, "objects (logged in)")
	if strings.Contains(screen, tok.PIN) {
		t.Fatalf("the PIN was echoed:\n%s", screen)
	}
}

func waitFor(t *testing.T, read func() string, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		if s = read(); strings.Contains(s, want) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("screen never showed %q:\n%s", want, s)
	return ""
}

// TestRunPrompts runs a ceremony whose PIN source is "prompt" with --plain
// in a real terminal: the PIN is typed at the masked prompt, each gate is
// answered with a typed yes line, and the ceremony finishes. (Without
// --plain a terminal gets the wizard: tui_test.go.)
func TestRunPrompts(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	c := headless(tok)
	c.PIN = "prompt"
	cfg := c.Write(t)
	x := newTerm(t, "plain", 220, 50)
	x.start([]string{"SOFTHSM2_CONF=" + testenvConf(t)}, "run", "--plain", "--config", cfg)
	x.waitText("PIN for token")
	x.text(tok.PIN)
	x.keys("Enter")
	answered := 0
	x.waitFor("ceremony finished", func(s string) bool {
		if n := strings.Count(s, "Type yes to go on"); n > answered {
			answered = n
			x.text("yes")
			x.keys("Enter")
		}
		return strings.Contains(s, "ceremony finished")
	})
	if answered != 3 {
		t.Errorf("%d gates, want 3 (CA, transcript key, root key)", answered)
	}
	x.noFrameHolds(tok.PIN)
}

// TestPassphraseAskedAgain runs a ceremony whose targets passphrase is
// typed (--plain, a real terminal): one shorter than notary's minimum is
// asked for again at the masked prompt, under one line saying why, instead
// of failing the step; the ceremony then finishes.
func TestPassphraseAskedAgain(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	c := headless(tok)
	c.Notary = testenv.NotaryServerT(t)
	cfg := c.Write(t)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	typed := regexp.MustCompile(`targets_passphrase: ".*"`).ReplaceAll(b, []byte("targets_passphrase: prompt"))
	if err := os.WriteFile(cfg, typed, 0o644); err != nil {
		t.Fatal(err)
	}
	x := newTerm(t, "passphrase", 220, 50)
	x.start([]string{"SOFTHSM2_CONF=" + testenvConf(t), "CEREMONY_TEST_PIN=" + tok.PIN}, "run", "--plain", "--config", cfg)
	const prompt, again = "passphrase for the notary targets key:", "passphrase for the notary targets key (again):"
	const why = "the passphrase is 5 characters; notary requires at least 8: choose a longer one"
	// Each prompt, in order, is answered with one entry.
	answers := map[string][]string{prompt: {"short", "long-enough"}, again: {"long-enough"}, "or d to record a deviation:": nil}
	asked := map[string]int{}
	var full string
	x.waitFor("ceremony finished", func(string) bool {
		full = x.do("capture-pane", "-p", "-J", "-S", "-1000", "-t", "w")
		if strings.Contains(full, "FAILED") || strings.Contains(full, "failed:") {
			t.Fatalf("the step failed:\n%s", full)
		}
		for p, entries := range answers {
			n := 0
			for _, l := range strings.Split(full, "\n") {
				if strings.Contains(l, p) {
					n++
				}
			}
			if n <= asked[p] {
				continue
			}
			entry := "yes"
			if entries != nil {
				if asked[p] >= len(entries) {
					t.Fatalf("%q asked %d times:\n%s", p, n, full)
				}
				entry = entries[asked[p]]
			}
			asked[p]++
			x.text(entry)
			x.keys("Enter")
		}
		return strings.Contains(full, "ceremony finished")
	})
	if asked[prompt] != 2 || asked[again] != 1 {
		t.Fatalf("asked %v; want the passphrase twice (too short, then long enough) and again once:\n%s", asked, full)
	}
	if !strings.Contains(full, "\n"+why+"\n"+prompt) || strings.Count(full, why) != 1 {
		t.Fatalf("want one line saying why, right above the prompt asked again:\n%s", full)
	}
	x.noFrameHolds("long-enough")
}

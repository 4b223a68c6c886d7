package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// The wizard end to end, in a real terminal: tmux runs the binary, the test
// types as an operator would and reads the screen with capture-pane, polling
// until what it waits for shows (never sleeping blindly).

// tmuxPane is one tmux server with one pane of a given size.
type tmuxPane struct {
	t      *testing.T
	tmux   string
	sock   string
	frames []string // every screen read, for the checks that span them all
}

func newTerm(t *testing.T, name string, w, h int) *tmuxPane {
	t.Helper()
	x := &tmuxPane{t: t, tmux: testenv.Tool(t, "tmux"), sock: "ceremony-tui-" + name + "-" + filepath.Base(filepath.Dir(t.TempDir()))}
	x.do("-f", "/dev/null", "new-session", "-d", "-s", "w", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h))
	t.Cleanup(func() { exec.Command(x.tmux, "-L", x.sock, "kill-server").Run() })
	// remain-on-exit keeps the pane, and what the command printed, after it ends.
	x.do("set-option", "-t", "w", "remain-on-exit", "on")
	return x
}

func (x *tmuxPane) do(args ...string) string {
	x.t.Helper()
	out, err := exec.Command(x.tmux, append([]string{"-L", x.sock}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// start runs the ceremony binary in the pane, replacing what ran before.
// A shell around it prints its exit status when it ends: tmux 3.3 under
// load may leave an exited pane's process unreaped and never call it dead.
func (x *tmuxPane) start(env []string, args ...string) {
	x.t.Helper()
	cmd := append([]string{"respawn-pane", "-k", "-t", "w", "env"}, env...)
	cmd = append(cmd, "sh", "-c", `"$0" "$@"; echo "[exit $?]"`, binary)
	x.do(append(cmd, args...)...)
}

var exitRE = regexp.MustCompile(`\[exit (\d+)\]`)

// waitExit waits for the program in the pane to end and returns its exit
// status and what is left on the terminal (scrollback included, wrapped
// lines joined).
func (x *tmuxPane) waitExit() (status, screen string) {
	x.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s := x.do("capture-pane", "-p", "-J", "-S", "-200", "-t", "w")
		x.frames = append(x.frames, s)
		if m := exitRE.FindStringSubmatch(s); m != nil {
			return m[1], s
		}
		time.Sleep(30 * time.Millisecond)
	}
	x.t.Fatalf("the program did not end:\n%s", x.screen())
	return "", ""
}

func (x *tmuxPane) keys(keys ...string) { x.do(append([]string{"send-keys", "-t", "w"}, keys...)...) }
func (x *tmuxPane) text(s string)       { x.do("send-keys", "-t", "w", "-l", s) }

func (x *tmuxPane) screen() string {
	s := x.do("capture-pane", "-p", "-t", "w")
	x.frames = append(x.frames, s)
	return s
}

// waitFor polls the screen until ok holds.
func (x *tmuxPane) waitFor(what string, ok func(string) bool) string {
	x.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		if s = x.screen(); ok(s) {
			return s
		}
		time.Sleep(30 * time.Millisecond)
	}
	x.t.Fatalf("the screen never showed %s:\n%s", what, s)
	return ""
}

func (x *tmuxPane) waitText(want string) string {
	x.t.Helper()
	return x.waitFor(want, func(s string) bool { return strings.Contains(s, want) })
}

// gateRE finds a gate: a step's number, or "first" for the transcript
// key's, which comes before step 1.
var gateRE = regexp.MustCompile(`Irreversible: (?:steps? (\d+) (?:of|to)|(first), before step 1)`)

// confirmGates types yes at each gate, once per step, until the screen
// shows until; stopAt ("first" for the transcript key) leaves that gate
// unanswered and returns.
func (x *tmuxPane) confirmGates(until, stopAt string) string {
	x.t.Helper()
	confirmed := map[string]bool{}
	return x.waitFor(until, func(s string) bool {
		if strings.Contains(s, until) {
			return true
		}
		m := gateRE.FindStringSubmatch(s)
		if m == nil || confirmed[m[1]+m[2]] {
			return false
		}
		if m[1]+m[2] == stopAt {
			return true
		}
		confirmed[m[1]+m[2]] = true
		x.text("yes")
		x.keys("Enter")
		return false
	})
}

func (x *tmuxPane) noFrameHolds(secret string) {
	x.t.Helper()
	for i, f := range x.frames {
		if strings.Contains(f, secret) {
			x.t.Fatalf("frame %d of %d shows the PIN:\n%s", i, len(x.frames), f)
		}
	}
}

// verifyTranscript runs `ceremony verify` on a finished output directory.
func verifyTranscript(t *testing.T, out string) string {
	t.Helper()
	r := ceremony(t, nil, "verify", filepath.Join(out, "transcript.intoto.jsonl"), "--ca", filepath.Join(out, "ca.pem"))
	if r.code != 0 {
		t.Fatalf("verify: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// colourRE finds an SGR that sets a foreground or background colour.
var colourRE = regexp.MustCompile(`\x1b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7]|4[0-7]|10[0-7]|38|48)[;m]`)

// keyRowRE is the transcript key's row waiting, with step 1's under it.
var keyRowRE = regexp.MustCompile(`│ ›  \? waiting  Transcript key +│.*\n│  1 ○ pending  Create the CA`)

// TestTUIDemo: `ceremony demo` at 100×30, followed with yes and Enter
// alone, ends on `Ceremony complete` with a transcript that verifies. It
// runs under NO_COLOR, and no frame has a colour in it.
func TestTUIDemo(t *testing.T) {
	t.Parallel()
	x := newTerm(t, "demo", 100, 30)
	dir := filepath.Join(t.TempDir(), "demo")
	x.start([]string{"PATH=" + os.Getenv("PATH"), "NO_COLOR=1"}, "demo", "--out", dir)
	s := x.confirmGates("Ceremony complete", "first")
	if s := x.do("capture-pane", "-e", "-p", "-t", "w"); colourRE.MatchString(s) || !strings.Contains(s, "? waiting") {
		t.Errorf("NO_COLOR: a colour, or no word for the state:\n%q", s)
	}
	// The first gate is the transcript key's: the script shows it as a row
	// of its own, right before step 1, and the gate says why it comes first.
	if !keyRowRE.MatchString(s) || !strings.Contains(s, "It comes first on purpose") {
		t.Errorf("the transcript key's gate is not on its own row before step 1:\n%s", s)
	}
	x.text("yes")
	x.keys("Enter")
	x.waitFor("the transcript key done", func(s string) bool { return strings.Contains(s, "✓ done     Transcript key") })
	s = x.confirmGates("Ceremony complete", "")
	for _, want := range []string{"Keys on the token", "VERIFIED", "TRAINING"} {
		if !strings.Contains(s, want) {
			t.Errorf("the end screen lacks %q:\n%s", want, s)
		}
	}
	verifyTranscript(t, filepath.Join(dir, "ceremony-out"))
	x.keys("Enter")
	if status, s := x.waitExit(); status != "0" || !strings.Contains(s, "VERIFIED") {
		t.Fatalf("exit status %s:\n%s", status, s)
	}
}

// TestTUIQuitResume: at 80×24 with the PIN typed into the masked field,
// q mid-ceremony asks, y stops at the gate (the journal says why), and the
// same command resumes to the end. The PIN shows in no frame.
func TestTUIQuitResume(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	c := headless(tok)
	c.PIN = "prompt"
	cfg := c.Write(t)
	x := newTerm(t, "resume", 80, 24)
	env := []string{"SOFTHSM2_CONF=" + testenvConf(t)}
	typePIN := func() {
		x.waitText("Secret needed")
		x.text(tok.PIN)
		x.waitText(strings.Repeat("•", len(tok.PIN)))
		x.keys("Enter")
	}

	x.start(env, "run", "--config", cfg)
	typePIN()
	x.confirmGates("Ceremony complete", "3")
	// The gate's field has focus: d and q are letters typed into it, not
	// hotkeys; ctrl+c still asks.
	x.text("dq")
	s := x.waitText("> dq")
	if strings.Contains(s, "Record a deviation") || strings.Contains(s, "Stop the ceremony here?") || !strings.Contains(s, "only yes goes on") {
		t.Errorf("d or q typed into the gate's field acted as a hotkey:\n%s", s)
	}
	x.keys("C-c")
	x.waitText("Stop the ceremony here?")
	x.keys("y")
	status, s := x.waitExit()
	if status != "1" || !strings.Contains(s, "To continue: ceremony run --config "+cfg) || !strings.Contains(s, "run the same command to continue") {
		t.Errorf("exit status %s, want 1, and how to go on:\n%s", status, s)
	}

	x.start(env, "run", "--config", cfg)
	typePIN()
	x.confirmGates("Ceremony complete", "")
	x.keys("q")
	if status, s := x.waitExit(); status != "0" {
		t.Fatalf("exit status %s:\n%s", status, s)
	}
	out := verifyTranscript(t, filepath.Join(filepath.Dir(cfg), "out"))
	if !strings.Contains(out, "stopped the ceremony before step root") {
		t.Errorf("the deviation is not in the transcript:\n%s", out)
	}
	x.noFrameHolds(tok.PIN)
}

// TestScreenshots writes the wizard's screens as the real program draws
// them (capture-pane -e) to $CEREMONY_SCREENSHOTS/<scene>.ansi; `make
// screenshots` renders them to docs/screenshots. It is a generator, not a
// check: without the variable it does nothing.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("CEREMONY_SCREENSHOTS")
	if dir == "" {
		t.Skip("set CEREMONY_SCREENSHOTS=DIR (make screenshots)")
	}
	t.Run("demo", func(t *testing.T) {
		t.Parallel()
		x := newTerm(t, "shots-demo", 100, 30)
		x.start([]string{"PATH=" + os.Getenv("PATH")}, "demo", "--out", filepath.Join(t.TempDir(), "demo"))
		x.confirmGates("Ceremony complete", "first")
		x.text("yes")
		x.waitText("Enter goes on")
		x.shoot(dir, "gate")
		x.keys("Enter")
		x.confirmGates("Ceremony complete", "")
		x.shoot(dir, "complete")
		x.keys("Enter")
	})
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		tok := testenv.NewToken(t)
		srv := testenv.NotaryServerT(t)
		cfg := testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/acme/web"}, Notary: srv, Delegations: []testenv.Delegation{{Role: "targets/releases"}},
			Extra: "operator: Olivia\nroot: {label: root, key: rsa-4096, days: 365}\n"}.Write(t)
		x := newTerm(t, "shots-run", 100, 30)
		x.start([]string{"SOFTHSM2_CONF=" + testenvConf(t)}, "run", "--config", cfg)
		x.confirmGates("Ceremony complete", "3")
		x.text("yes")
		x.keys("Enter")
		// RSA-4096 takes a second or two in SoftHSM2: catch it running.
		x.waitFor("the root key's generation in progress", func(s string) bool { return strings.Contains(s, `generating rsa-4096 key "root"`) })
		x.shoot(dir, "running")
		x.waitFor("the next gate", func(s string) bool { return gateRE.MatchString(s) && !strings.Contains(s, "running") })
		x.keys("Escape") // out of the gate's field, where d is a letter
		x.waitText("out of the field")
		x.keys("d")
		x.text("The second witness arrived after the CA was made; she checked its fingerprint against the screen.")
		x.keys("Tab")
		x.text("Bob")
		x.waitText("> Bob")
		x.shoot(dir, "deviation")
		x.keys("Enter")
		x.waitText("deviation recorded")
		x.confirmGates("Ceremony complete", "5")
		if err := srv.Stop(); err != nil {
			t.Fatal(err)
		}
		x.text("yes")
		x.keys("Enter")
		x.waitText("What to do")
		x.shoot(dir, "failure")
		x.keys("a")
		x.waitText("Ceremony stopped")
		x.keys("Enter")
		x.waitExit()
	})
}

// shoot writes the screen with its colours, as capture-pane -e gives it.
func (x *tmuxPane) shoot(dir, name string) {
	x.t.Helper()
	s := x.do("capture-pane", "-e", "-p", "-t", "w")
	if err := os.WriteFile(filepath.Join(dir, name+".ansi"), []byte(s), 0o644); err != nil {
		x.t.Fatal(err)
	}
}

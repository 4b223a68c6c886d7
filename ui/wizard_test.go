package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/steps"
)

// The wizard's model tests drive Update with messages, as huh's tests do:
// engine messages stand for the running ceremony, key presses for the
// operator. Goldens hold the View's text at 80×24 and 120×40 (go test
// ./ui -run Golden -update rewrites them).

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// wizardPlan is the demo's plan with fixed paths: testdata/wizard/ceremony.yaml
// parsed as if it lived in /srv/ceremony.
func wizardPlan(t testing.TB) *steps.Plan {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "wizard"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "ceremony.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw, dir)
	if err != nil {
		t.Fatal(err)
	}
	return steps.NewPlan(cfg)
}

// newTestWizard is a wizard whose engine is never started: the test plays
// the engine's part.
func newTestWizard(t testing.TB, plan *steps.Plan, w, h int) *Wizard {
	t.Helper()
	e := NewEngine(context.Background(), func(context.Context, *Engine) error { return nil })
	m := NewWizard(e, WizardOptions{Title: "ceremony run · ceremony.yaml", Plan: plan, ResumeHint: "ceremony run --config ceremony.yaml"})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func send(m *Wizard, msgs ...tea.Msg) {
	for _, msg := range msgs {
		m.Update(msg)
	}
}

func ev(kind steps.EventKind, i int, p *steps.Plan) eventMsg {
	return eventMsg{steps.Event{Kind: kind, Index: i, Total: len(p.Steps) - 1, StepID: p.Steps[i].ID, Title: p.Steps[i].Title, Time: testTime}}
}

func finished(i int, p *steps.Plan, summary string) eventMsg {
	e := ev(steps.StepFinished, i, p)
	e.Result = &steps.Result{Summary: summary}
	return e
}

// namedKeys are the keys the model tests press by name; any other name is
// the character it spells.
var namedKeys = map[string]tea.KeyPressMsg{
	"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
	"backspace": {Code: tea.KeyBackspace}, "ctrl+c": {Code: 'c', Mod: tea.ModCtrl}, "shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
	"up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown}, "left": {Code: tea.KeyLeft}, "right": {Code: tea.KeyRight},
	"home": {Code: tea.KeyHome}, "end": {Code: tea.KeyEnd}, "pgup": {Code: tea.KeyPgUp}, "pgdown": {Code: tea.KeyPgDown},
}

// keyPress is the key named s.
func keyPress(s string) tea.KeyPressMsg {
	if k, ok := namedKeys[s]; ok {
		return k
	}
	return tea.KeyPressMsg{Code: []rune(s)[0], Text: s}
}

func typeText(m *Wizard, s string) {
	for _, r := range s {
		m.Update(keyPress(string(r)))
	}
}

func screen(m *Wizard) string { return ansi.Strip(m.View().Content) }

const (
	caFP   = "3A7F 09C2 5B1E 44D0 9E21 7C3B A0F4 1D56 8B2E 6F90 C3A1 0E7D 52B8 94F6 1AC3 7E05"
	rootFP = "B41C 2E9A 7D03 F5E8 6A12 C90B 3F47 81DE 0C5A 9B36 E274 18F0 AD63 5C29 07BE 4F81"
)

// Scenes of a ceremony, each from the one before: what the goldens show.
func scenePlan(p *steps.Plan) []tea.Msg { return nil }

// sceneKeyGate: preflight has passed its checks and the runner asks the
// transcript key's gate (step 2's key), before step 1.
func sceneKeyGate(p *steps.Plan) []tea.Msg {
	return []tea.Msg{
		ev(steps.StepStarted, 0, p),
		questionMsg{q: steps.Question{Kind: steps.Confirm, Step: &p.Steps[2], Index: 2, Total: len(p.Steps) - 1}, reply: make(chan steps.Answer, 1)},
	}
}

// keyMade is the transcript key's gate answered and preflight finished.
func keyMade(p *steps.Plan) []tea.Msg {
	return append(sceneKeyGate(p), keyPress("y"), keyPress("e"), keyPress("s"), keyPress("enter"),
		finished(0, p, `token "demo" (SoftHSM project SoftHSM v2, serial 5d1e0c3f2a9b4c7e) ready; output /srv/ceremony/out`))
}

func sceneGate(p *steps.Plan) []tea.Msg {
	return append(keyMade(p),
		questionMsg{q: steps.Question{Kind: steps.Confirm, Step: &p.Steps[1], Index: 1, Total: len(p.Steps) - 1}, reply: make(chan steps.Answer, 1)},
	)
}

func sceneRunning(p *steps.Plan) []tea.Msg {
	return append(keyMade(p),
		ev(steps.StepStarted, 1, p),
		finished(1, p, `CA key "ca" (id 5c1e0a77d2f4b913) in the token; CN=Docker Notary CA (rehearsal) valid until 2046-03-09; SHA-256 fingerprint `+caFP),
		ev(steps.StepStarted, 2, p),
		finished(2, p, `transcript key "transcript" (id 77b2e0c1) in the token; certificate issued by the CA`),
		ev(steps.StepStarted, 3, p),
		eventMsg{steps.Event{Kind: steps.StepProgress, Index: 3, Total: len(p.Steps) - 1, StepID: p.Steps[3].ID, Title: p.Steps[3].Title, Message: "generating ecdsa-p256 key … 3s", Time: testTime}},
	)
}

func sceneFailure(p *steps.Plan) []tea.Msg {
	msgs := sceneRunning(p)[:len(keyMade(p))+4]
	msgs = append(msgs,
		ev(steps.StepStarted, 3, p),
		finished(3, p, `root key "root" (id 9d04be13) in the token; CN=root certificate valid until 2027-03-14; public key SHA-256 `+rootFP),
		ev(steps.StepStarted, 4, p),
		finished(4, p, `repository certificate for docker.io/demo/nginx issued by the CA`),
		ev(steps.StepStarted, 5, p),
	)
	err := errors.New(`step notary-init:docker.io/demo/nginx: notary server https://notary.example.com:4443: dial tcp 127.0.0.1:4443: connect: connection refused`)
	fail := ev(steps.StepFailed, 5, p)
	fail.Err = err
	return append(msgs, fail,
		questionMsg{q: steps.Question{Kind: steps.Failed, Step: &p.Steps[5], Index: 5, Total: len(p.Steps) - 1, Err: err}, reply: make(chan steps.Answer, 1)})
}

func sceneComplete(p *steps.Plan) []tea.Msg {
	msgs := sceneFailure(p)[:len(keyMade(p))+8]
	for i := 5; i < len(p.Steps); i++ {
		msgs = append(msgs, ev(steps.StepStarted, i, p), finished(i, p, "published"))
	}
	res := &audit.Result{Transcript: "/srv/ceremony/out/transcript.intoto.jsonl", OK: true, Ceremony: audit.Ceremony{
		Tool: "ceremony",
		Keys: []audit.Key{
			{Label: "ca", Type: "ecdsa-p256", CKAID: "5c1e0a77d2f4b913"},
			{Label: "transcript", Type: "ecdsa-p256", CKAID: "77b2e0c1"},
			{Label: "root", Type: "ecdsa-p256", CKAID: "9d04be13"},
		},
		Certificates: []audit.Certificate{
			{File: "ca.pem", Subject: "CN=Docker Notary CA (rehearsal)", Fingerprint: caFP},
			{File: "root.crt", Subject: "CN=root", Fingerprint: rootFP},
		},
		Repositories: []audit.Repository{{GUN: "docker.io/demo/nginx", RootVersion: 2, RootKeyID: "f3a19c0d7be24e5a8c61d0e9", RootJSONValid: true}},
		Events:       []audit.Event{{Kind: "deviation"}},
	}}
	return append(msgs,
		eventMsg{steps.Event{Kind: steps.PlanFinished, Message: "ceremony finished; transcript /srv/ceremony/out/transcript.intoto.jsonl", Time: testTime}},
		verifiedMsg{res: res}, runDoneMsg{})
}

func TestWizardGolden(t *testing.T) {
	p := wizardPlan(t)
	scenes := []struct {
		name  string
		msgs  func(*steps.Plan) []tea.Msg
		typed string
	}{
		{"plan", scenePlan, ""},
		{"keygate", sceneKeyGate, ""},
		{"gate", sceneGate, "ye"},
		{"running", sceneRunning, ""},
		{"failure", sceneFailure, ""},
		{"complete", sceneComplete, ""},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, sc := range scenes {
			t.Run(fmt.Sprintf("%s_%dx%d", sc.name, size[0], size[1]), func(t *testing.T) {
				m := newTestWizard(t, p, size[0], size[1])
				send(m, sc.msgs(p)...)
				typeText(m, sc.typed)
				out := screen(m)
				if got := strings.Count(out, "\n") + 1; got != size[1] {
					t.Errorf("%d lines, want %d", got, size[1])
				}
				for i, l := range strings.Split(out, "\n") {
					if w := ansi.StringWidth(l); w > size[0] {
						t.Errorf("line %d is %d wide: %q", i, w, l)
					}
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

// isQuit runs cmd (and a batch's commands) and reports whether it quits.
func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	switch msg := cmd().(type) {
	case tea.QuitMsg:
		return true
	case tea.BatchMsg:
		for _, c := range msg {
			if isQuit(c) {
				return true
			}
		}
	}
	return false
}

// answered is the answer the wizard sent, if any.
func answered(reply chan steps.Answer) (steps.Answer, bool) {
	select {
	case a := <-reply:
		return a, true
	default:
		return 0, false
	}
}

func TestWizardGate(t *testing.T) {
	p := wizardPlan(t)
	cases := []struct {
		name   string
		keys   []string
		answer steps.Answer
		asked  bool // an answer went back
		shows  string
	}{
		{"enter alone does nothing", []string{"enter"}, 0, false, "Enter alone does nothing"},
		{"yes typed but no enter", []string{"y", "e", "s"}, 0, false, "✓ Enter goes on"},
		{"a wrong word", []string{"y", "e", "p", "enter"}, 0, false, "✗ only yes goes on"},
		{"corrected", []string{"y", "e", "p", "backspace", "s", "enter"}, steps.Proceed, true, "yes"},
		{"yes", []string{"y", "e", "s", "enter"}, steps.Proceed, true, "confirmed by typing yes"},
		{"capital YES is not yes", []string{"Y", "E", "S", "enter"}, 0, false, "✗ only yes goes on"},
		{"q is typed, not quit", []string{"q"}, 0, false, "✗ only yes goes on"},
		{"ctrl+c asks first", []string{"ctrl+c"}, 0, false, "Stop the ceremony here?"},
		{"ctrl+c then n goes on", []string{"ctrl+c", "n", "y", "e", "s", "enter"}, steps.Proceed, true, "confirmed"},
		{"ctrl+c then y stops at the gate", []string{"ctrl+c", "y"}, steps.Abort, true, "Stopping"},
		{"esc then q asks", []string{"esc", "q"}, 0, false, "Stop the ceremony here?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestWizard(t, p, 100, 30)
			msgs := sceneGate(p)
			reply := make(chan steps.Answer, 1)
			msgs[len(msgs)-1] = questionMsg{q: msgs[len(msgs)-1].(questionMsg).q, reply: reply}
			send(m, msgs...)
			for _, k := range c.keys {
				m.Update(keyPress(k))
			}
			a, ok := answered(reply)
			if ok != c.asked || a != c.answer {
				t.Errorf("answer %v (sent %v), want %v (sent %v)", a, ok, c.answer, c.asked)
			}
			if s := screen(m); !strings.Contains(s, c.shows) {
				t.Errorf("screen lacks %q:\n%s", c.shows, s)
			}
		})
	}
}

func TestWizardFailure(t *testing.T) {
	p := wizardPlan(t)
	cases := []struct {
		name    string
		canSkip bool
		key     string
		answer  steps.Answer
		asked   bool
	}{
		{"retry", false, "r", steps.Retry, true},
		{"abort", false, "a", steps.Abort, true},
		{"skip where the plan allows", true, "s", steps.Skip, true},
		{"no skip where it does not", false, "s", 0, false},
		{"enter decides nothing", true, "enter", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestWizard(t, p, 80, 24)
			msgs := sceneFailure(p)
			q := msgs[len(msgs)-1].(questionMsg).q
			q.CanSkip = c.canSkip
			reply := make(chan steps.Answer, 1)
			msgs[len(msgs)-1] = questionMsg{q: q, reply: reply}
			send(m, msgs...)
			s := screen(m)
			if strings.Contains(s, "s skip") != c.canSkip {
				t.Errorf("skip offered: %v, want %v:\n%s", !c.canSkip, c.canSkip, s)
			}
			m.Update(keyPress(c.key))
			a, ok := answered(reply)
			if ok != c.asked || a != c.answer {
				t.Errorf("answer %v (sent %v), want %v (sent %v)", a, ok, c.answer, c.asked)
			}
		})
	}
}

// TestWizardSkipped: a step the operator skipped reads "skipped", one an
// earlier run finished "restored": two words, two glyphs.
func TestWizardSkipped(t *testing.T) {
	p := wizardPlan(t)
	m := newTestWizard(t, p, 120, 40)
	reply := make(chan steps.Answer, 1)
	send(m, ev(steps.StepSkipped, 1, p))
	fail := ev(steps.StepFailed, 7, p)
	fail.Err = errors.New("delegation refused")
	send(m, fail, questionMsg{q: steps.Question{Kind: steps.Failed, Step: &p.Steps[7], Index: 7, Total: 7, Err: fail.Err, CanSkip: true}, reply: reply})
	m.Update(keyPress("s"))
	send(m, ev(steps.StepSkipped, 7, p))
	s := screen(m)
	for _, want := range []string{"1 ↺ restored", "7 ↷ skipped"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
}

// TestWizardSecret: the secret is typed into a masked field and never
// rendered; Enter hands it over, Esc refuses.
func TestWizardSecret(t *testing.T) {
	const pin = "s3cr3t-PIN"
	for _, c := range []struct {
		key     string
		value   string
		refused bool
	}{{"enter", pin, false}, {"esc", "", true}} {
		t.Run(c.key, func(t *testing.T) {
			p := wizardPlan(t)
			m := newTestWizard(t, p, 80, 24)
			reply := make(chan secretReply, 1)
			send(m, ev(steps.StepStarted, 0, p), secretMsg{prompt: `PIN for token "demo"`, reply: reply})
			typeText(m, pin)
			s := screen(m)
			if !strings.Contains(s, `Secret needed: PIN for token "demo"`) || !strings.Contains(s, strings.Repeat("•", len(pin))) {
				t.Errorf("no masked field:\n%s", s)
			}
			m.Update(keyPress(c.key))
			r := <-reply
			if string(r.value) != c.value || (r.err != nil) != c.refused {
				t.Errorf("reply %q, %v", r.value, r.err)
			}
			if strings.Contains(s+screen(m), pin) {
				t.Errorf("the secret is on screen")
			}
			if m.input.Value() != "" {
				t.Errorf("the field still holds the secret")
			}
		})
	}
}

// TestWizardDeviation: d opens a small form; the deviation goes to the
// journal's channel with its reporter, and the journal's word is logged.
func TestWizardDeviation(t *testing.T) {
	p := wizardPlan(t)
	m := newTestWizard(t, p, 100, 30)
	send(m, ev(steps.StepStarted, 3, p))
	m.Update(keyPress("d"))
	typeText(m, "witness left the room")
	m.Update(keyPress("tab"))
	typeText(m, "Alice")
	if s := screen(m); !strings.Contains(s, "Record a deviation") {
		t.Fatalf("no deviation form:\n%s", s)
	}
	_, cmd := m.Update(keyPress("enter"))
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	d := <-m.engine.devs
	if d.Text != "witness left the room" || d.By != "Alice" {
		t.Errorf("deviation %+v", d)
	}
	d.Recorded <- nil
	m.Update(<-done)
	if s := screen(m); !strings.Contains(s, "deviation recorded in the transcript") {
		t.Errorf("not logged:\n%s", s)
	}
}

// TestWizardQuitRunning: q asks; y cancels the run's context and the
// wizard quits when the run has ended, not before.
func TestWizardQuitRunning(t *testing.T) {
	p := wizardPlan(t)
	m := newTestWizard(t, p, 80, 24)
	send(m, ev(steps.StepStarted, 3, p))
	if _, cmd := m.Update(keyPress("q")); isQuit(cmd) {
		t.Fatal("q quit without asking")
	}
	if s := screen(m); !strings.Contains(s, "Stop the ceremony here?") || !strings.Contains(s, "  ceremony run --config ceremony.yaml") {
		t.Fatalf("no question:\n%s", s)
	}
	if _, cmd := m.Update(keyPress("y")); isQuit(cmd) {
		t.Fatal("quit before the run ended")
	}
	if m.engine.ctx.Err() == nil {
		t.Fatal("the run's context is not cancelled")
	}
	if _, cmd := m.Update(runDoneMsg{context.Canceled}); !isQuit(cmd) {
		t.Fatal("no quit once the run ended")
	}
}

func TestWizardEndLeaves(t *testing.T) {
	for _, k := range []string{"enter", "q", "ctrl+c"} {
		p := wizardPlan(t)
		m := newTestWizard(t, p, 80, 24)
		send(m, sceneComplete(p)...)
		if _, cmd := m.Update(keyPress(k)); !isQuit(cmd) {
			t.Errorf("%s does not leave the end screen", k)
		}
	}
}

// TestWizardStopped: a run that ends in an error shows it and how to go on.
func TestWizardStopped(t *testing.T) {
	p := wizardPlan(t)
	m := newTestWizard(t, p, 80, 24)
	send(m, ev(steps.StepStarted, 0, p), runDoneMsg{errors.New("preflight found 2 problems:\n  - PIN: refused at the prompt\n  - clock: not synchronised")})
	s := screen(m)
	for _, want := range []string{"Ceremony stopped", "clock: not synchronised", "  ceremony run --config ceremony.yaml"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
}

// TestWizardResize: every size from tiny to wide fills the terminal exactly.
func TestWizardResize(t *testing.T) {
	p := wizardPlan(t)
	m := newTestWizard(t, p, 80, 24)
	send(m, sceneRunning(p)...)
	for _, size := range [][2]int{{40, 12}, {63, 20}, {64, 24}, {80, 24}, {100, 30}, {200, 60}, {80, 24}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		lines := strings.Split(screen(m), "\n")
		if len(lines) != size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for i, l := range lines {
			if ansi.StringWidth(l) > size[0] {
				t.Errorf("%dx%d: line %d is %d wide", size[0], size[1], i, ansi.StringWidth(l))
			}
		}
	}
}

// TestWizardGateAhead: the transcript key's gate, which the runner asks
// during preflight (the key signs the transcript's first entry), is about a
// row of its own in the script, before step 1: pending, waiting at the
// gate, running once confirmed, done with preflight; the gate and the
// right pane say why it comes first. Its plan step, after the CA, stays
// pending for the CA's certificate.
func TestWizardGateAhead(t *testing.T) {
	p := wizardPlan(t)
	m := newTestWizard(t, p, 80, 24)
	row := regexp.MustCompile(`(?m)^│ (.)  (. \w+ +)Transcript key +│`)
	// the row's state, and that the row is right before step 1's
	state := func(s string) string {
		l := row.FindStringSubmatchIndex(s)
		if l == nil {
			t.Fatalf("no transcript key row in the script:\n%s", s)
		}
		next := s[l[1]:]
		next = next[strings.IndexByte(next, '\n')+1:]
		if !strings.HasPrefix(next, "│  1 ") {
			t.Errorf("the transcript key's row is not right before step 1:\n%s", s)
		}
		return strings.TrimSpace(s[l[4]:l[5]])
	}
	reply := make(chan steps.Answer, 1)
	if got := state(screen(m)); got != "○ pending" {
		t.Errorf("before the run: %q, want pending", got)
	}
	send(m, ev(steps.StepStarted, 0, p),
		questionMsg{q: steps.Question{Kind: steps.Confirm, Step: &p.Steps[2], Index: 2, Total: len(p.Steps) - 1}, reply: reply})
	s := screen(m)
	if got := state(s); got != "? waiting" {
		t.Errorf("at its gate: %q, want waiting", got)
	}
	for _, want := range []string{"before step 1 ? waiting", "Before step 1 · Transcript key", "⚠ Irreversible: first, before step 1:",
		"transcript signer", "It comes first on purpose", "Step 2 has the CA certify it"} {
		if !strings.Contains(s, want) {
			t.Errorf("the gate lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "step 2 of 7") || strings.Contains(s, "write transcript.pem") {
		t.Errorf("the gate is about step 2:\n%s", s)
	}
	typeText(m, "yes")
	m.Update(keyPress("enter"))
	if a, ok := answered(reply); !ok || a != steps.Proceed {
		t.Fatalf("answer %v (sent %v)", a, ok)
	}
	if got := state(screen(m)); got != "▸ running" {
		t.Errorf("confirmed: %q, want running", got)
	}
	send(m, finished(0, p, "token ready"))
	s = screen(m)
	if got := state(s); got != "✓ done" {
		t.Errorf("after preflight: %q, want done", got)
	}
	if !strings.Contains(s, "2 ○ pending  Create the tran") {
		t.Errorf("step 2 is not pending:\n%s", s)
	}
}

// TestWizardGateFieldTakesLetters: while the gate's field has focus, every
// letter is typed into it, hotkeys' letters included: "dq" shows in the
// field (refused, not yes), and neither the deviation form nor the quit
// question opens. ctrl+c still asks; esc leaves the field, and then d and q
// are hotkeys again.
func TestWizardGateFieldTakesLetters(t *testing.T) {
	p := wizardPlan(t)
	cases := []struct {
		name       string
		keys       []string
		field      string
		shows, not []string
	}{
		{"dq is typed", []string{"d", "q"}, "dq", []string{"> dq", "✗ only yes goes on"}, []string{"Record a deviation", "Stop the ceremony here?"}},
		{"k and f are typed", []string{"k", "f"}, "kf", []string{"> kf"}, []string{"Stop the ceremony here?"}},
		{"ctrl+c asks", []string{"y", "ctrl+c"}, "y", []string{"Stop the ceremony here?"}, nil},
		{"esc then d is a deviation", []string{"esc", "d"}, "", []string{"Record a deviation"}, nil},
		{"esc then q asks", []string{"esc", "q"}, "", []string{"Stop the ceremony here?"}, nil},
		{"esc then yes types again", []string{"esc", "y", "e", "s"}, "yes", []string{"> yes", "✓ Enter goes on"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTestWizard(t, p, 80, 24)
			send(m, sceneGate(p)...)
			for _, k := range c.keys {
				m.Update(keyPress(k))
			}
			s := screen(m)
			if m.input.Value() != c.field {
				t.Errorf("field holds %q, want %q", m.input.Value(), c.field)
			}
			for _, want := range c.shows {
				if !strings.Contains(s, want) {
					t.Errorf("screen lacks %q:\n%s", want, s)
				}
			}
			for _, bad := range c.not {
				if strings.Contains(s, bad) {
					t.Errorf("screen shows %q:\n%s", bad, s)
				}
			}
		})
	}
}

// paneLines are the lines inside the end screen's box, without its border.
func paneLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "│ ") && strings.HasSuffix(l, " │") {
			out = append(out, strings.TrimRight(strings.TrimSuffix(strings.TrimPrefix(l, "│ "), " │"), " "))
		}
	}
	return out
}

// TestWizardEndPaths: at 80 columns the end screen shows the transcript's
// path whole on a line of its own when it fits one, and breaks a longer one
// only after a '/': never at a hyphen inside a name.
func TestWizardEndPaths(t *testing.T) {
	p := wizardPlan(t)
	for _, path := range []string{
		"/tmp/ceremony-out/rehearsal-2026-11-30/op-laptop/transcript.intoto.jsonl",
		"/tmp/ceremony-out/rehearsal-2026-11-30/operator-laptop-of-the-second-witness/second-attempt/ceremony-out/transcript.intoto.jsonl",
	} {
		t.Run(fmt.Sprint(len(path)), func(t *testing.T) {
			m := newTestWizard(t, p, 80, 24)
			msgs := sceneComplete(p)
			v := msgs[len(msgs)-2].(verifiedMsg)
			res := *v.res
			res.Transcript = path
			msgs[len(msgs)-2] = verifiedMsg{res: &res}
			send(m, msgs...)
			lines := paneLines(screen(m))
			var got []string // the lines that hold the path
			for _, l := range lines {
				if l = strings.TrimSpace(strings.TrimPrefix(l, "Transcript")); strings.HasPrefix(l, "/") || len(got) > 0 && !strings.Contains(strings.Join(got, ""), "jsonl") {
					got = append(got, strings.TrimSpace(strings.TrimSuffix(l, "(sealed)")))
				}
			}
			if strings.Join(got, "") != path {
				t.Fatalf("the path reads %q, want %q:\n%s", strings.Join(got, ""), path, strings.Join(lines, "\n"))
			}
			if len(path) <= 76-2 && len(got) != 1 {
				t.Errorf("a path that fits a line is broken: %q", got)
			}
			for _, l := range got[:len(got)-1] {
				if !strings.HasSuffix(l, "/") {
					t.Errorf("broken elsewhere than after a '/': %q", l)
				}
			}
		})
	}
}

func TestWrapPath(t *testing.T) {
	cases := []struct {
		s    string
		w    int
		want []string
	}{
		{"ceremony run --config /tmp/ceremony-out/ceremony.yaml", 40, []string{"ceremony run --config", "/tmp/ceremony-out/ceremony.yaml"}},
		{"/srv/a-b/c-d/e-f", 9, []string{"/srv/a-b/", "c-d/e-f"}},
		{"/x/" + strings.Repeat("a-", 10) + "z", 8, []string{"/x/", "a-a-a-a↩", "-a-a-a-↩", "a-a-a-z"}},
		{"  - PIN: refused at /dev/some-token", 20, []string{"  - PIN: refused at", "  /dev/some-token"}},
	}
	for _, c := range cases {
		if got := wrapPath(c.s, c.w); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("wrapPath(%q, %d) = %q, want %q", c.s, c.w, got, c.want)
		}
	}
}

package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/ceremony-dev/ceremony/audit"
)

const (
	replayCAHex   = "3463f6403567baa59727d102c7bffe904e0124e8dbbc073d3b8ccd8fa299c1da"
	replayRootHex = "846e179f10f8f2a252fc5500d39d229c3788a397fd0b5bfc789a924409810ed8"
	replaySPKI    = "8505e40142df4e74714d3ea7127f733730ec11e0028e20e95959317008910df3"
)

// replayResult is a hand-made ceremony with every exception a replay must
// show: an interruption and a resume, a failure and its retry, a deviation
// during a step and one outside any, a declared witness who signed and one
// who did not. verdict picks how far it verified.
func rpResult(verdict string) *audit.Result {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tick := func(s int) time.Time { return at.Add(time.Duration(s) * time.Second) }
	ok := audit.LineCheck{Status: audit.LineVerified}
	certs := audit.LineCheck{Status: audit.LineVerified, Checks: []string{"ca", "certificates"}}
	events := []audit.Event{
		{Line: 1, Kind: "header", Started: tick(0), Verification: ok},
		{Line: 2, Kind: "step", StepID: "preflight", Title: "Preflight", Attempt: 1, Started: tick(0), Finished: tick(2), Verification: ok,
			Summary: `token "prod" (Yubico YubiHSM, serial 42) ready; output /srv/ceremony-out`, Inputs: map[string]any{"token": "prod", "module": "/usr/lib/yubihsm_pkcs11.so"}},
		{Line: 3, Kind: "intent", StepID: "ca", Title: "Create the CA", Started: tick(3), Summary: `about to generate ecdsa-p256 key "ca"`, Verification: ok,
			Inputs: map[string]any{"generate": map[string]any{"label": "ca", "type": "ecdsa-p256"}}},
		{Line: 4, Kind: "step", StepID: "ca", Title: "Create the CA", Attempt: 1, Started: tick(3), Finished: tick(9), Verification: certs,
			Summary: `CA key "ca" (id 0a1b) in the token; CN=Docker Notary CA valid until 2046-11-19`,
			Inputs:  map[string]any{"label": "ca", "key": "ecdsa-p256", "subject": "CN=Docker Notary CA", "days": float64(7300)},
			Files:   []audit.File{{Name: "ca.pem", SHA256: replayCAHex}}},
		{Line: 5, Kind: "intent", StepID: "root", Title: "Create the root key", Started: tick(10), Summary: `about to generate ecdsa-p256 key "root"`, Verification: ok},
		{Line: 6, Kind: "resume", Started: tick(600), Summary: "continued after 2 finished steps", Verification: ok},
		{Line: 7, Kind: "step", StepID: "preflight", Title: "Preflight", Attempt: 1, Started: tick(600), Finished: tick(601), Verification: ok, Summary: "ready again"},
		{Line: 8, Kind: "step", StepID: "root", Title: "Create the root key", Attempt: 1, Started: tick(602), Finished: tick(604), Verification: certs,
			Summary: `root key "root" (id 0c0d) in the token`, Files: []audit.File{{Name: "root.crt", SHA256: replayRootHex}}},
		{Line: 9, Kind: "failure", StepID: "notary-init:docker.io/acme/app", Title: "Notary init docker.io/acme/app", Attempt: 1, Started: tick(610), Finished: tick(640),
			Error: "notary server https://notary.acme.test: dial tcp 10.0.0.5:4443: connection refused", Verification: ok, Inputs: map[string]any{"gun": "docker.io/acme/app"}},
		{Line: 10, Kind: "step", StepID: "notary-init:docker.io/acme/app", Title: "Notary init docker.io/acme/app", Attempt: 2, Started: tick(700), Finished: tick(703),
			Summary: "published root.json v1, root key 6c186fc…1fedb6a", Verification: audit.LineCheck{Status: audit.LineVerified, Checks: []string{"root.json"}},
			Inputs: map[string]any{"gun": "docker.io/acme/app"}},
		{Line: 11, Kind: "deviation", StepID: "delegation:docker.io/acme/app:targets/ci", Title: "Delegation targets/ci of docker.io/acme/app", Started: tick(710),
			Summary: "the delegate's key came on a USB stick, not by signed e-mail", By: "Bob", Verification: ok},
		{Line: 12, Kind: "step", StepID: "delegation:docker.io/acme/app:targets/ci", Title: "Delegation targets/ci of docker.io/acme/app", Attempt: 1, Started: tick(711), Finished: tick(712),
			Summary: "targets/ci holds key 7fb6ea3…e263f95", Verification: ok, Inputs: map[string]any{"gun": "docker.io/acme/app", "role": "targets/ci", "paths": "all"}},
		{Line: 13, Kind: "deviation", Started: tick(720), Summary: "Alice left the room for five minutes", By: "Alice", Verification: ok},
		{Line: 14, Kind: "seal", Started: tick(730), Verification: ok},
	}
	c := audit.Ceremony{Tool: "ceremony", Version: "1.0", Kind: "root", ConfigDigest: "sha256:" + replayCAHex, Operator: "Olivia", Started: at, Sealed: tick(730),
		Token:  audit.Token{Label: "prod", Manufacturer: "Yubico", Model: "YubiHSM", Serial: "42", Firmware: "2.4", Flags: []string{"initialized", "rng"}},
		Module: audit.Module{Path: "/usr/lib/yubihsm_pkcs11.so", SHA256: replayRootHex, Library: "YubiHSM PKCS#11"},
		Clock:  audit.Clock{Source: "chrony"},
		Signer: audit.Signer{KeyID: "sha256:" + replaySPKI, Label: "transcript", CKAID: "0e0f", Type: "ecdsa-p256", Certificate: replayCAHex},
		Plan: []audit.PlannedStep{
			{ID: "preflight", Title: "Preflight", Seed: []string{"(manual checks before the ceremony)"}},
			{ID: "ca", Title: "Create the CA", Seed: []string{"ucl generate -t ECC -n ca", `openssl req -x509 -days 7300 -sha256 -subj "CN=Docker Notary CA"`}},
			{ID: "root", Title: "Create the root key", Seed: []string{"ucl generate -t ECC -n root"}},
			{ID: "notary-init:docker.io/acme/app", Title: "Notary init docker.io/acme/app", Seed: []string{"notary init docker.io/acme/app --publish"}},
			{ID: "delegation:docker.io/acme/app:targets/ci", Title: "Delegation targets/ci of docker.io/acme/app", Seed: []string{"notary delegation add docker.io/acme/app targets/ci ci.pub --all-paths -p"}},
		},
		Events: events,
		Keys: []audit.Key{
			{StepID: "ca", Label: "ca", Type: "ecdsa-p256", CKAID: "0a1b", SPKISHA256: replaySPKI, Attributes: map[string]bool{"sensitive": true, "alwaysSensitive": true, "neverExtractable": true, "local": true}},
			{StepID: "root", Label: "root", Type: "ecdsa-p256", CKAID: "0c0d", SPKISHA256: replaySPKI, Adopted: true, Attributes: map[string]bool{"sensitive": true, "neverExtractable": true, "local": true}},
		},
		Certificates: []audit.Certificate{
			{File: "ca.pem", Subject: "CN=Docker Notary CA", Issuer: "CN=Docker Notary CA", Serial: "1a2b", NotBefore: at, NotAfter: at.AddDate(20, 0, 0), SHA256: replayCAHex, StepID: "ca", Line: 4},
			{File: "root.crt", Subject: "CN=root", Issuer: "CN=root", Serial: "3c4d", NotBefore: at, NotAfter: at.AddDate(1, 0, 0), SHA256: replayRootHex, StepID: "root", Line: 8},
		},
		Repositories: []audit.Repository{{GUN: "docker.io/acme/app", RootVersion: 1, RootKeyID: replaySPKI, RootJSONValid: true}},
		Declared:     []audit.DeclaredWitness{{Name: "Alice", Role: "auditor", KeyID: "sha256:aa"}, {Name: "Bob", Role: "security officer", KeyID: "sha256:bb"}},
	}
	checks := []audit.Check{{Name: "transcript", OK: true, Detail: "14 lines through the seal"}, {Name: "ca", OK: true}, {Name: "signer certificate", OK: true},
		{Name: "certificates", OK: true}, {Name: "root.json", OK: true}, {Name: "artifacts", OK: true, Detail: "not asked for"}, {Name: "witnesses", OK: true, Detail: "1 of 2 declared witnesses signed"}}
	r := &audit.Result{Transcript: "/srv/ceremony-out/transcript.intoto.jsonl", OK: true, Ceremony: c, Checks: checks,
		Witnesses: []audit.Witness{{Name: "Alice", Role: "auditor", KeyID: "sha256:aa", Statement: "I watched every step.", Time: tick(800), Line: 15, Declared: true}}}
	switch verdict {
	case "failed":
		r.OK = false
		r.Checks = append(checks[:4:4], audit.Check{Name: "root.json", Detail: "notary rejects the root.json of docker.io/acme/app under the pinned CA"})
		r.Failure = &audit.Failure{Check: "root.json", Line: 10, Message: "notary/docker.io/acme/app/root.json: notary rejects the root.json of docker.io/acme/app under the pinned CA"}
		r.Ceremony.Events[9].Verification = audit.LineCheck{Status: audit.LineFailed, Detail: r.Failure.Message + " (check: root.json)"}
		r.Ceremony.Repositories[0].RootJSONValid = false
	case "unverified":
		r.OK, r.Unanchored, r.Checks = false, true, checks[:1]
		for i := range r.Ceremony.Events {
			r.Ceremony.Events[i].Verification = audit.LineCheck{Status: audit.LineSigned,
				Detail: "signed by the transcript key and chained to the line before; not anchored: no CA was given, so nothing ties the transcript key to one"}
		}
	case "training":
		r.Ceremony.Training = true
	case "unreadable":
		r.OK, r.Ceremony, r.Witnesses = false, audit.Ceremony{}, nil
		r.Checks = []audit.Check{{Name: "transcript", Detail: "not sealed: the ceremony did not finish (9 lines, the last a \"failure\" entry)"}}
		r.Failure = &audit.Failure{Check: "transcript", Message: r.Checks[0].Detail}
	}
	return r
}

// press sends keys to the replay; a quit stops it.
func rpPress(t *testing.T, m *Replay, keys ...string) (quit bool) {
	t.Helper()
	for _, k := range keys {
		_, cmd := m.Update(keyPress(k))
		if cmd != nil {
			if _, ok := cmd().(tea.QuitMsg); ok {
				return true
			}
		}
	}
	return false
}

func rpSized(r *audit.Result, ca string, w, h int) *Replay {
	m := NewReplay(r, ReplayOptions{CA: ca})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return m
}

func rpScreen(m *Replay) string { return ansi.Strip(m.View().Content) }

// TestReplayGolden renders the replay of the hand-made ceremony at 80×24
// and 120×40 after some keys, and compares the screen (ANSI stripped: what
// it says must not depend on colour) with its golden file. go test ./ui
// -run TestReplayGolden -update rewrites them.
func TestReplayGolden(t *testing.T) {
	cases := []struct {
		name, verdict string
		keys          []string
	}{
		{"header", "verified", nil},
		{"ca", "verified", []string{"n", "n"}},
		{"ca-scrolled", "verified", []string{"n", "n", "pgdown"}},
		{"resume", "verified", []string{"right", "right", "right", "right"}},
		{"retried", "verified", []string{"end", "p", "p", "up"}},
		{"deviation-step", "verified", []string{"end", "left", "left"}},
		{"deviation", "verified", []string{"end", "left"}},
		{"seal", "verified", []string{"end"}},
		{"failed-line", "failed", []string{"end", "p", "p", "p"}},
		{"unverified", "unverified", []string{"n", "n"}},
		{"training", "training", nil},
		{"unreadable", "unreadable", nil},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], tc.name), func(t *testing.T) {
				ca := "ca.pem"
				if tc.verdict == "unverified" {
					ca = ""
				}
				m := rpSized(rpResult(tc.verdict), ca, size[0], size[1])
				rpPress(t, m, tc.keys...)
				out := rpScreen(m)
				lines := strings.Split(out, "\n")
				if len(lines) != size[1] {
					t.Errorf("%d lines, want %d", len(lines), size[1])
				}
				for i, l := range lines {
					if w := ansi.StringWidth(l); w != size[0] {
						t.Errorf("line %d is %d wide, want %d: %q", i+1, w, size[0], l)
					}
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

// TestReplayKeys drives the replay by keys: n/p, arrows, home/end move
// within bounds, pgdn/pgup scroll the step and reset on a move, q quits.
func TestReplayKeys(t *testing.T) {
	m := rpSized(rpResult("verified"), "ca.pem", 80, 24)
	sel := func() int { i, _ := m.Selected(); return i }
	titles := []string{}
	for i := range m.items {
		titles = append(titles, m.items[i].title)
	}
	want := []string{"Transcript header", "Preflight", "Create the CA", "Create the root key", "Resumed: run 2",
		"Notary init docker.io/acme/app", "Delegation targets/ci of docker.io/acme/app", "Deviation", "Seal and witnesses"}
	if strings.Join(titles, "|") != strings.Join(want, "|") {
		t.Fatalf("script %q\nwant   %q", titles, want)
	}
	for _, step := range []struct {
		keys []string
		want int
	}{
		{[]string{"p"}, 0}, {[]string{"left", "up", "k"}, 0}, {[]string{"n"}, 1}, {[]string{"right", "down", "j"}, 4},
		{[]string{"end"}, 8}, {[]string{"n", "right"}, 8}, {[]string{"home"}, 0}, {[]string{"G"}, 8}, {[]string{"g"}, 0},
	} {
		rpPress(t, m, step.keys...)
		if got := sel(); got != step.want {
			t.Fatalf("after %v: item %d, want %d", step.keys, got, step.want)
		}
	}
	rpPress(t, m, "n", "n")
	top := rpScreen(m)
	rpPress(t, m, "pgdown")
	if rpScreen(m) == top || !strings.Contains(rpScreen(m), "↑ pgup") {
		t.Fatalf("pgdown did not scroll:\n%s", rpScreen(m))
	}
	rpPress(t, m, "pgup")
	if rpScreen(m) != top {
		t.Fatalf("pgup did not scroll back:\n%s", rpScreen(m))
	}
	rpPress(t, m, "pgdown", "n", "p")
	if rpScreen(m) != top {
		t.Fatal("moving to another step and back does not start at its top")
	}
	// A resize redraws at the new size.
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	if lines := strings.Split(rpScreen(m), "\n"); len(lines) != 30 || ansi.StringWidth(lines[0]) != 100 {
		t.Fatalf("after a resize: %d lines of %d", len(lines), ansi.StringWidth(lines[0]))
	}
	for _, q := range []string{"q", "esc"} {
		if !rpPress(t, m, q) {
			t.Errorf("%s does not quit", q)
		}
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}); cmd == nil {
		t.Error("ctrl+c does not quit")
	}
	if v := m.View(); !v.AltScreen || !strings.Contains(v.WindowTitle, "transcript.intoto.jsonl") {
		t.Errorf("view: alt screen %v, title %q", v.AltScreen, v.WindowTitle)
	}
}

// TestReplayWords: every state the script shows has a glyph and a word,
// so that nothing is told by colour alone.
func TestReplayWords(t *testing.T) {
	out := rpScreen(rpSized(rpResult("failed"), "ca.pem", 120, 40))
	for _, want := range []string{"≡ header", "✓ done", "↻ resumed", "↺ resume", "✗ UNTRUSTED", "! deviation", "■ sealed",
		"✗ NOT VERIFIED against ca.pem: line 10: notary/docker.io/acme/app/root.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("screen lacks %q:\n%s", want, out)
		}
	}
	// Styled, the same words are there: colour only repeats them.
	styled := NewReplay(rpResult("failed"), ReplayOptions{CA: "ca.pem"}).View().Content
	if !strings.Contains(styled, "\x1b[") || !strings.Contains(ansi.Strip(styled), "✗ UNTRUSTED") {
		t.Error("the replay is not styled, or its words depend on the styles")
	}
}

// TestPrintReplay: --plain prints every item with the same words, no
// escape sequences, fingerprints in groups of four.
func TestPrintReplay(t *testing.T) {
	for _, tc := range []struct {
		verdict, ca string
		wants       []string
	}{
		{"verified", "ca.pem", []string{
			"ceremony replay · /srv/ceremony-out/transcript.intoto.jsonl · read-only\n✓ VERIFIED against ca.pem: every check holds",
			"== 1/9 · ≡ header · Transcript header", "== 3/9 · step 1 · ✓ done · Create the CA",
			"== 5/9 · ↺ resume · Resumed: run 2", "continued after 2 finished steps",
			"== 6/9 · step 3 · ↻ retried · Notary init docker.io/acme/app",
			"line 9 · FAILED, attempt 1, run 2 · 10:10:10–10:10:40", "connection refused",
			"line 10 · done, attempt 2, run 2 · 10:11:40–10:11:43\n    ✓ verified (root.json)",
			"== 7/9 · step 4 · ! deviation · Delegation targets/ci", `"the delegate's key came on a USB stick, not by signed e-mail" (reported by Bob)`,
			"== 8/9 · ! deviation · Deviation", "reported by Alice",
			"found on the token after an interruption", "3463 F640 3567 BAA5 9727 D102 C7BF FE90\n    4E01 24E8 DBBC 073D 3B8C CD8F A299 C1DA",
			"✓ Alice (auditor): signed 2026-11-24 10:13:20 UTC (line 15)", "✗ Bob (security officer): has not signed",
			"$ ucl generate -t ECC -n ca", "  subject  CN=Docker Notary CA",
		}},
		{"unverified", "", []string{"⚠ UNVERIFIED (no --ca)", "? signed, not anchored: no --ca given"}},
		{"training", "ca.pem", []string{"⚠ TRAINING — NOT FOR PRODUCTION", "Training    ⚠ YES: a rehearsal, not for production"}},
		{"unreadable", "ca.pem", []string{"✗ NOT VERIFIED against ca.pem: not sealed", "== 1/1 · ✗ UNREAD · Transcript not readable"}},
	} {
		t.Run(tc.verdict, func(t *testing.T) {
			var b strings.Builder
			if err := PrintReplay(&b, rpResult(tc.verdict), tc.ca); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, want := range tc.wants {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "\x1b") {
				t.Error("--plain output holds escape sequences")
			}
		})
	}
}

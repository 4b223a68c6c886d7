package ui

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"charm.land/bubbles/v2/cursor"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/steps"
)

var _ = golden.RequireEqual[string] // its -update flag regenerates testdata/forms too

// formsTokens is cmd's token listing, faked: two tokens on a SoftHSM2
// module, an error for any other module.
func formsTokens(_ context.Context, module string) ([]TokenChoice, error) {
	if module != config.DefaultModule {
		return nil, fmt.Errorf("open %s: no such file", module)
	}
	return []TokenChoice{
		{Slot: 0, Label: "ceremony", Serial: "1f2e3d4c5b6a7988", Manufacturer: "SoftHSM project", Model: "SoftHSM v2"},
		{Slot: 1, Label: "spare", Serial: "0a0b0c0d0e0f1011", Manufacturer: "SoftHSM project", Model: "SoftHSM v2"},
	}, nil
}

func newTestForms(t testing.TB, start *config.Config, w, h int) *Forms {
	t.Helper()
	dir := t.TempDir()
	if start != nil {
		dir = start.Dir // the operator is beside the config
	}
	m := NewForms(context.Background(), FormsOptions{Start: start, Dir: dir, Tokens: formsTokens})
	formsFeed(m, tea.WindowSizeMsg{Width: w, Height: h})
	formsAt(m, "module")
	return m
}

// formsPress sends keys, each followed by what its commands bring back.
func formsPress(m *Forms, keys ...string) {
	for _, k := range keys {
		formsFeed(m, keyPress(k))
	}
}

// formsType types text one character at a time.
func formsType(m *Forms, s string) {
	for _, r := range s {
		formsFeed(m, keyPress(string(r)))
	}
}

var formsCmdType = reflect.TypeFor[tea.Cmd]()

// formsFeed updates m with msg and runs the commands it returns, feeding
// their messages back: huh moves between fields through commands. Batches
// and sequences are opened; commands that only wait (waitingCmds) are
// dropped.
func formsFeed(m *Forms, msg tea.Msg) {
	if msg == nil {
		return
	}
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == formsCmdType {
		for i := 0; i < v.Len(); i++ {
			formsRun(m, v.Index(i).Interface().(tea.Cmd))
		}
		return
	}
	_, cmd := m.Update(msg)
	if m.phase == formsListing || m.phase == formsWriting {
		// The one command is the listing or the writing: wait for it.
		formsFeed(m, cmd())
		return
	}
	formsRun(m, cmd)
}

// waitingCmds are the code of the commands that only wait (a cursor's
// blink, a tick): dropped at once. Every other command is waited for, so a
// busy machine cannot drop one that moves between fields.
var waitingCmds = func() map[uintptr]bool {
	c := cursor.New()
	return map[uintptr]bool{
		reflect.ValueOf(c.Blink()).Pointer():                                                   true,
		reflect.ValueOf(tea.Tick(time.Hour, func(time.Time) tea.Msg { return nil })).Pointer(): true,
	}
}()

func formsRun(m *Forms, cmd tea.Cmd) {
	if cmd == nil || waitingCmds[reflect.ValueOf(cmd).Pointer()] {
		return
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	select {
	case msg := <-ch:
		if _, quit := msg.(tea.QuitMsg); quit {
			return
		}
		formsFeed(m, msg)
	case <-time.After(5 * time.Second):
	}
}

func formsScreen(m *Forms) string { return ansi.Strip(m.View().Content) }

// formsAt opens the page id directly, as if the operator had come to it.
func formsAt(m *Forms, id string) {
	cmd := m.enter(id)
	if m.phase == formsListing {
		formsFeed(m, cmd())
		return
	}
	formsRun(m, cmd)
}

// formsGolden compares a screen with testdata/forms/<name>.golden; go test
// -update (golden's flag) rewrites it.
func formsGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "forms", name+".golden")
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -run %s -update)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from %s:\n--- want\n%s\n--- got\n%s", name, path, want, got)
	}
}

// startConfig is a config a team prepared: the forms start from it.
func startConfig(t testing.TB) *config.Config {
	dir := t.TempDir()
	c, err := config.Parse([]byte("hsm: {token: ceremony, pin: env:CEREMONY_PIN}\nrepositories: [{gun: docker.io/alice/nginx}, {gun: docker.io/alice/redis, days: 90}]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFormsGUNAsYouType: a GUN with an uppercase letter is refused as it is
// typed, with config.Load's own words, before Enter; fixing it clears the
// error at once.
func TestFormsGUNAsYouType(t *testing.T) {
	m := newTestForms(t, nil, 100, 30)
	formsAt(m, "repositories")
	formsType(m, "Docker.io/alice/nginx")
	want := config.CheckGUN("repositories[0].gun", "Docker.io/alice/nginx").Error()
	if s := formsScreen(m); !strings.Contains(strings.Join(strings.Fields(s), " "), "✗ "+want) {
		t.Fatalf("no error while typing; want %q under the field:\n%s", want, s)
	}
	// Enter adds a line to the GUNs; tab tries to leave and is refused.
	formsPress(m, "tab")
	if m.page != "repositories" || m.form.GetFocusedField() != m.fields[0].Field {
		t.Fatalf("left the GUNs with a bad GUN: page %s", m.page)
	}
	for range "Docker.io/alice/nginx" {
		formsPress(m, "backspace")
	}
	formsType(m, "docker.io/alice/nginx")
	if s := formsScreen(m); strings.Contains(s, "✗") {
		t.Fatalf("the fixed GUN still shows an error:\n%s", s)
	}
	formsPress(m, "enter")
	formsType(m, "docker.io/alice/nginx")
	if s := formsScreen(m); !strings.Contains(s, `"docker.io/alice/nginx" is listed twice`) {
		t.Fatalf("a GUN listed twice is not refused as typed:\n%s", s)
	}
}

// TestFormsLiteralPIN: the PIN field takes a source; a PIN typed there by
// mistake is masked on screen, refused with the config's message, and the
// page does not go on until it is a source.
func TestFormsLiteralPIN(t *testing.T) {
	m := newTestForms(t, nil, 100, 30)
	formsPress(m, "enter") // the default module: its tokens are listed
	if m.page != "token" {
		t.Fatalf("page %s, want token", m.page)
	}
	formsPress(m, "enter") // the first token
	for range "prompt" {
		formsPress(m, "backspace")
	}
	formsType(m, "123456")
	s := formsScreen(m)
	want := config.CheckSecretSource("hsm.pin", "123456").Error()
	if !strings.Contains(strings.Join(strings.Fields(s), " "), want) {
		t.Fatalf("a literal PIN is not refused as typed (want %q):\n%s", want, s)
	}
	if strings.Contains(s, "123456") {
		t.Fatalf("the PIN typed by mistake shows on screen:\n%s", s)
	}
	formsPress(m, "enter")
	if m.page != "token" {
		t.Fatalf("a literal PIN went through to page %s", m.page)
	}
	for range "123456" {
		formsPress(m, "backspace")
	}
	formsType(m, "env:CEREMONY_PIN")
	if s := formsScreen(m); strings.Contains(s, "✗") || !strings.Contains(s, "env:CEREMONY_PIN") {
		t.Fatalf("a source is refused or hidden:\n%s", s)
	}
	formsPress(m, "enter")
	if m.page != "keys" || m.d.pin != "env:CEREMONY_PIN" || m.d.token != "ceremony" {
		t.Fatalf("page %s, pin %q, token %q", m.page, m.d.pin, m.d.token)
	}
}

// TestFormsBack: shift+tab on a page's first field goes back a page, with
// the values kept.
func TestFormsBack(t *testing.T) {
	m := newTestForms(t, startConfig(t), 100, 30)
	formsAt(m, "validity")
	formsPress(m, "shift+tab")
	if m.page != "keys" {
		t.Fatalf("page %s after shift+tab, want keys", m.page)
	}
	formsPress(m, "shift+tab")
	if m.page != "token" || m.d.pin != "env:CEREMONY_PIN" {
		t.Fatalf("page %s, pin %q", m.page, m.d.pin)
	}
}

// TestFormsReview: the last page writes the config to a new file and shows
// that file; only a typed yes hands it back.
func TestFormsReview(t *testing.T) {
	m := newTestForms(t, startConfig(t), 100, 30)
	formsAt(m, "output")
	formsPress(m, "enter", "enter")
	if m.phase != formsReview {
		t.Fatalf("phase %d, problems %q", m.phase, m.problems)
	}
	raw, err := os.ReadFile(m.path)
	if err != nil || !bytes.Equal(raw, m.written) {
		t.Fatalf("the review does not show the file as written: %v", err)
	}
	s := formsScreen(m)
	for _, want := range []string{"Review the config · ceremony.yaml", "token: ceremony", "pin: env:CEREMONY_PIN", "- gun: docker.io/alice/redis", "days: 90", "Type yes to run this ceremony"} {
		if !strings.Contains(s, want) {
			t.Errorf("review lacks %q:\n%s", want, s)
		}
	}
	formsPress(m, "enter")
	formsType(m, "y")
	formsPress(m, "enter")
	if m.phase != formsReview || !strings.Contains(formsScreen(m), "type yes, the whole word") {
		t.Fatalf("enter without yes went on (phase %d):\n%s", m.phase, formsScreen(m))
	}
	formsType(m, "es")
	formsPress(m, "enter")
	if _, ok := m.Result(); ok || !strings.Contains(formsScreen(m), "scroll to the end first") {
		t.Fatalf("yes before the end of the file was read:\n%s", formsScreen(m))
	}
	formsPress(m, "down", "down", "down", "down", "down", "down", "down", "down", "enter")
	path, ok := m.Result()
	if !ok || path != filepath.Join(m.d.dir, "ceremony.yaml") {
		t.Fatalf("result %q %v", path, ok)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.HSM.Token != "ceremony" || len(c.Repositories) != 2 || c.Repositories[1].Days != 90 || c.Repositories[0].Days != 375 {
		t.Fatalf("loaded %+v", c)
	}
}

// TestFormsNeverOverwrite: a taken name is refused as it is typed, and the
// default name skips it.
func TestFormsNeverOverwrite(t *testing.T) {
	m := newTestForms(t, startConfig(t), 100, 30)
	os.WriteFile(filepath.Join(m.d.dir, "ceremony.yaml"), []byte("theirs"), 0o644)
	m.d.file = freeName(m.d.dir, "ceremony.yaml")
	if m.d.file != "ceremony-2.yaml" {
		t.Fatalf("default name %q", m.d.file)
	}
	formsAt(m, "output")
	formsPress(m, "enter")
	for range "ceremony-2.yaml" {
		formsPress(m, "backspace")
	}
	formsType(m, "ceremony.yaml")
	if s := formsScreen(m); !strings.Contains(s, "ceremony.yaml exists; the forms never overwrite a file") {
		t.Fatalf("a taken name is not refused:\n%s", s)
	}
	formsPress(m, "enter")
	if m.phase != formsEditing {
		t.Fatalf("went on with a taken name: phase %d", m.phase)
	}
	if b, _ := os.ReadFile(filepath.Join(m.d.dir, "ceremony.yaml")); string(b) != "theirs" {
		t.Fatal("the existing file changed")
	}
}

// TestFormsProblems: a problem only the whole config shows (a delegation
// whose repository was then removed) stops the writing and sends the
// operator to the page that fixes it.
func TestFormsProblems(t *testing.T) {
	m := newTestForms(t, startConfig(t), 100, 30)
	m.d.notary, m.d.url, m.d.trustDir = true, "https://notary.example.com", "./trust"
	cert := filepath.Join(m.d.dir, "me.crt")
	os.WriteFile(cert, []byte("x"), 0o644)
	m.d.delegate = true
	m.d.delegations = []*formDelegation{{gun: "docker.io/alice/gone", role: "targets/me", cert: "me.crt", paths: "all"}}
	formsAt(m, "output")
	formsPress(m, "enter", "enter")
	if m.phase != formsProblems || m.backTo != "delegate/0" {
		t.Fatalf("phase %d, back to %q, problems %q", m.phase, m.backTo, m.problems)
	}
	s := formsScreen(m)
	if !strings.Contains(s, `delegations[0].gun: "docker.io/alice/gone" is not one of the repositories`) || !strings.Contains(s, "Delegate 1") {
		t.Fatalf("problems screen:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(m.d.dir, "ceremony.yaml")); err == nil {
		t.Fatal("a config with problems was written")
	}
	formsPress(m, "enter")
	if m.page != "delegate/0" {
		t.Fatalf("page %s", m.page)
	}
}

// TestFormsStartFromConfig: with --config, every page starts from the
// file's values, and paths keep naming the same files from where the
// operator is.
func TestFormsStartFromConfig(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "me.crt"), []byte("x"), 0o644)
	c, err := config.Parse([]byte(`hsm: {token: spare, pin: file:pin.txt}
ca: {label: ca2, key: rsa-3072, subject: "CN=Example CA,O=Example", days: 5000}
repositories: [{gun: docker.io/alice/nginx, days: 100}]
notary: {url: "https://notary.example.com", trust_dir: trust, targets_passphrase: env:T, snapshot_passphrase: env:S, auth: file:auth.b64}
delegations: [{gun: docker.io/alice/nginx, role: targets/ci, cert: me.crt, paths: [release/, v1/]},
  {gun: docker.io/alice/nginx, role: targets/me, cert: me.crt, paths: all, docker: true}]
operator: Olga
`), src)
	if err != nil {
		t.Fatal(err)
	}
	// The operator is elsewhere: the forms rebase the file's paths.
	m := NewForms(context.Background(), FormsOptions{Start: c, Dir: t.TempDir(), Tokens: formsTokens})
	formsFeed(m, tea.WindowSizeMsg{Width: 100, Height: 30})
	formsAt(m, "module")
	d := m.d
	if d.token != "spare" || d.pin != "file:"+filepath.Join(src, "pin.txt") || d.caKey != "rsa-3072" || d.caDays != "5000" ||
		d.guns != "docker.io/alice/nginx" || d.repoDays != "100" || !d.notary || d.trustDir != filepath.Join(src, "trust") ||
		!d.delegate || d.delegations[0].paths != "release/ v1/" || d.delegations[0].cert != filepath.Join(src, "me.crt") || d.operator != "Olga" ||
		d.delegations[0].docker || !d.delegations[1].docker {
		t.Fatalf("draft %+v %+v", d, d.delegations[0])
	}
	formsPress(m, "enter")
	if m.page != "token" || m.tokenPick != 1 || !strings.Contains(formsScreen(m), "> spare") {
		t.Fatalf("the config's token is not the one chosen (pick %d):\n%s", m.tokenPick, formsScreen(m))
	}
	back := d.config()
	if got, want := back.Path(back.Delegations[0].Cert), c.Path(c.Delegations[0].Cert); got != want {
		t.Fatalf("delegate's cert %s, want %s", got, want)
	}
	if got, want := back.Notary.Auth, "file:"+filepath.Join(src, "auth.b64"); got != want {
		t.Fatalf("notary.auth %q, want %q", got, want)
	}
	if back.Delegations[0].Docker || !back.Delegations[1].Docker {
		t.Fatal("the docker signer is lost between the file and the forms")
	}
}

// TestFormsTokenless: a module that cannot be read here still lets the
// operator type the token's label, and says why.
func TestFormsTokenless(t *testing.T) {
	m := newTestForms(t, nil, 100, 30)
	for range config.DefaultModule {
		formsPress(m, "backspace")
	}
	formsType(m, "/opt/vendor/libvendor.so")
	formsPress(m, "enter")
	s := formsScreen(m)
	if m.page != "token" || !strings.Contains(s, "the module shows no token here (open /opt/vendor/libvendor.so: no such file): type") {
		t.Fatalf("page %s:\n%s", m.page, s)
	}
	formsPress(m, "enter")
	if !strings.Contains(formsScreen(m), "hsm.token: missing: name the token by its label") {
		t.Fatalf("an empty label went through:\n%s", formsScreen(m))
	}
}

// TestFormsGolden: the pages and the review at 80×24 and 120×40.
func TestFormsGolden(t *testing.T) {
	scenes := []struct {
		name string
		play func(m *Forms)
	}{
		{"module", func(m *Forms) {}},
		{"token", func(m *Forms) { formsPress(m, "enter") }},
		{"keys", func(m *Forms) { formsAt(m, "keys") }},
		{"gun-error", func(m *Forms) { m.d.guns = ""; formsAt(m, "repositories"); formsType(m, "docker.io/Alice/nginx") }},
		{"delegate", func(m *Forms) {
			m.d.notary, m.d.delegate = true, true
			m.d.delegations = []*formDelegation{{paths: "all"}}
			formsAt(m, "delegate/0")
			formsType(m, "x")
			formsPress(m, "enter")
			formsType(m, "targets/Releases")
		}},
		{"review", func(m *Forms) { formsAt(m, "output"); formsPress(m, "enter", "enter") }},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, sc := range scenes {
			name := fmt.Sprintf("%s_%dx%d", sc.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				start := startConfig(t)
				if sc.name == "module" || sc.name == "token" {
					start = nil
				}
				m := newTestForms(t, start, size[0], size[1])
				sc.play(m)
				s := strings.ReplaceAll(formsScreen(m), m.d.dir, "/home/officer")
				if lines := strings.Count(s, "\n") + 1; lines > size[1] {
					t.Errorf("%d lines on a %d-line terminal", lines, size[1])
				}
				for i, l := range strings.Split(s, "\n") {
					if w := ansi.StringWidth(l); w > size[0] {
						t.Errorf("line %d is %d cells wide: %q", i+1, w, l)
					}
				}
				formsGolden(t, name, s)
			})
		}
	}
}

// formsProbe wraps the forms for teatest: after every Update it publishes
// the page, the focused field and the screen, so that a test waits on the
// model's state between keystrokes rather than on the byte stream.
type formsProbe struct {
	*Forms
	at *atomic.Value
}

type formsSnap struct {
	page, phase string
	field       int
	screen      string
}

func (p formsProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := p.Forms.Update(msg)
	snap := formsSnap{page: p.page, phase: fmt.Sprint(p.phase), field: -1, screen: formsScreen(p.Forms)}
	if p.form != nil && p.phase == formsEditing {
		for i, f := range p.fields {
			if p.form.GetFocusedField() == f.Field {
				snap.field = i
			}
		}
	}
	p.at.Store(snap)
	return p, cmd
}

// TestFormsFlow drives the program from the first field to the written
// file by keys, waiting for the model between keystrokes, then checks that
// the file loads and plans as `ceremony run --config FILE --plan` does.
func TestFormsFlow(t *testing.T) {
	dir := t.TempDir()
	m := NewForms(context.Background(), FormsOptions{Dir: dir, Tokens: formsTokens})
	at := &atomic.Value{}
	at.Store(formsSnap{})
	tm := teatest.NewTestModel(t, formsProbe{m, at}, teatest.WithInitialTermSize(100, 30))
	waitAt := func(page string, field int) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func([]byte) bool {
			s := at.Load().(formsSnap)
			return s.page == page && s.field == field && s.phase == fmt.Sprint(formsEditing)
		}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	}
	press := func(k string) { tm.Send(keyPress(k)) }
	typeIn := func(s string) {
		for _, r := range s {
			press(string(r))
		}
	}
	script := []struct {
		keys  []string
		text  string
		page  string
		field int
	}{
		{nil, "", "module", 0},
		{[]string{"enter"}, "", "token", 0},
		{[]string{"enter"}, "", "token", 1}, // the first token
		{[]string{"enter"}, "", "keys", 0},  // PIN: prompt
		{[]string{"enter"}, "", "keys", 1},
		{[]string{"right", "enter"}, "", "keys", 2}, // CA key: ecdsa-p384
		{[]string{"enter"}, "", "keys", 3},
		{[]string{"enter"}, "", "keys", 4},
		{[]string{"enter"}, "", "keys", 5},
		{[]string{"enter"}, "", "validity", 0},
		{[]string{"enter"}, "", "validity", 1},
		{[]string{"enter"}, "", "validity", 2},
		{[]string{"enter"}, "", "validity", 3},
		{[]string{"enter"}, "", "repositories", 0},
		{nil, "docker.io/alice/nginx", "", 0},
		{[]string{"tab"}, "", "repositories", 1},
		{[]string{"enter"}, "", "notary", 0},
		{[]string{"n"}, "", "people", 0},
		{nil, "Olga", "", 0},
		{[]string{"enter"}, "", "people", 1},
		{[]string{"n"}, "", "output", 0},
		{[]string{"enter"}, "", "output", 1},
	}
	for _, s := range script {
		for _, k := range s.keys {
			if k == "right" {
				tm.Send(tea.KeyPressMsg{Code: tea.KeyRight})
				continue
			}
			press(k)
		}
		typeIn(s.text)
		if s.page != "" {
			waitAt(s.page, s.field)
		}
	}
	press("enter")
	teatest.WaitFor(t, tm.Output(), func([]byte) bool {
		s := at.Load().(formsSnap)
		return s.phase == fmt.Sprint(formsReview) && strings.Contains(s.screen, "Type yes")
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnd})
	typeIn("yes")
	teatest.WaitFor(t, tm.Output(), func([]byte) bool {
		return strings.Contains(at.Load().(formsSnap).screen, "> yes")
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	press("enter")
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(formsProbe)
	path, ok := final.Result()
	if !ok || path != filepath.Join(dir, "ceremony.yaml") {
		t.Fatalf("result %q %v", path, ok)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.HSM.Token != "ceremony" || c.HSM.Serial != "" || c.HSM.PIN != "prompt" || c.CA.Key != "ecdsa-p384" || c.Operator != "Olga" ||
		len(c.Repositories) != 1 || c.Repositories[0].GUN != "docker.io/alice/nginx" || c.Notary != nil {
		t.Fatalf("loaded %+v", c)
	}
	var plan bytes.Buffer
	if err := WritePlan(&plan, steps.NewPlan(c), "text"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "docker.io/alice/nginx") {
		t.Fatalf("plan:\n%s", plan.String())
	}
}

// TestFormsPlain: accessible mode asks the same pages field by field on
// plain lines, refuses a bad answer with the same words and asks again,
// prints the written file whole and waits for yes.
func TestFormsPlain(t *testing.T) {
	dir := t.TempDir()
	answers := strings.Join([]string{
		"",                     // module: the default
		"",                     // token: the first
		"1234",                 // PIN: a literal, refused
		"env:CEREMONY_PIN",     // PIN
		"", "", "", "", "", "", // keys
		"", "", "", "", // certificates
		"Docker.io/alice/nginx",                           // refused
		"docker.io/alice/nginx, docker.io/alice/redis 90", // GUNs
		"",     // days
		"n",    // no notary
		"Olga", // operator
		"n",    // no witnesses
		"", "", // output, file
		"yes",
	}, "\n") + "\n"
	var out bytes.Buffer
	path, err := RunForms(context.Background(), FormsOptions{Dir: dir, Tokens: formsTokens, Plain: true, In: strings.NewReader(answers), Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	o := out.String()
	for _, want := range []string{"Page 2 of 8: Token and PIN", config.CheckSecretSource("hsm.pin", "1234").Error(),
		config.CheckGUN("repositories[0].gun", "Docker.io/alice/nginx").Error(), "--- " + path + " ---", "Type yes to run this ceremony"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	if strings.Contains(o, "\x1b[") {
		t.Errorf("escape sequences in plain output:\n%q", o)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.HSM.PIN != "env:CEREMONY_PIN" || len(c.Repositories) != 2 || c.Repositories[1].Days != 90 || c.Operator != "Olga" {
		t.Fatalf("loaded %+v", c)
	}
	// The input ending early writes nothing.
	_, err = RunForms(context.Background(), FormsOptions{Dir: t.TempDir(), Tokens: formsTokens, Plain: true, In: strings.NewReader("\n\n"), Out: &out})
	if !errors.Is(err, errPlainEOF) {
		t.Fatalf("early end: %v", err)
	}
}

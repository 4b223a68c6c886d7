package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/newfile"
)

// The config forms: `ceremony run` without --config builds the ceremony's
// one input page by page (one huh group a page), checks every field as it
// is typed by the rules config.Load applies, writes the YAML to a new file,
// shows that file for the witnesses to review, and hands its path back only
// once the operator types yes. With --plain the same pages are asked field
// by field on plain lines (huh's accessible mode).
//
// The forms never touch a token: cmd lists the module's tokens (Tokens)
// and hands plain values over.

// TokenChoice is one initialised token a module shows, as cmd hands it over.
type TokenChoice struct {
	Slot                uint
	Label, Serial       string
	Manufacturer, Model string
}

// FormsOptions configure the config forms.
type FormsOptions struct {
	// Start holds the values the forms start from: a loaded config
	// (--config), or nil for config.Template().
	Start *config.Config
	// Dir is where the operator is: the config file is written there by
	// default, and relative paths typed in the forms are relative to it.
	Dir string
	// Tokens lists the initialised tokens the module at path shows.
	Tokens func(ctx context.Context, module string) ([]TokenChoice, error)
	// Plain asks field by field on plain lines (huh's accessible mode),
	// for screen readers; In and Out are then read and written.
	Plain bool
	In    io.Reader
	Out   io.Writer
}

// ErrFormsStopped is returned when the operator leaves the forms before a
// config is confirmed. Nothing ran; a config already written stays.
var ErrFormsStopped = errors.New("the config forms were left before yes: nothing ran")

type formsPhase int

const (
	formsEditing  formsPhase = iota
	formsListing             // cmd lists the module's tokens
	formsWriting             // the config is checked and written
	formsProblems            // the whole config has problems a page must fix
	formsReview              // the written file, and "type yes"
	formsDone                // yes: the path goes back to cmd
	formsStopped             // left before yes
)

// Forms is the config forms' model (bubbletea v2).
type Forms struct {
	ctx  context.Context
	opts FormsOptions
	d    *formDraft
	st   formStyles

	width, height int
	phase         formsPhase

	page   string // the current page's id
	form   *huh.Form
	fields []*formField

	tokens       []TokenChoice
	tokensErr    error
	tokensListed bool
	listedFor    string // the module tokens were listed for
	tokenPick    int

	problems []string
	backTo   string // the page that fixes the first problem

	path    string // the written config
	written []byte
	review  viewport.Model
	yes     textinput.Model
	yesErr  string
	seenEnd bool // the review was scrolled to the file's last line
	keys    formsKeys
}

type formsKeys struct {
	Back, Quit, Scroll, Run, Stop, Fix key.Binding
}

// formStyles are the forms' looks: the terminal's own colours, dropped
// under NO_COLOR; every problem also carries a ✗.
type formStyles struct {
	title, muted, bad, good, key, gutter, rule lipgloss.Style
}

func newFormStyles() formStyles {
	fg := func(c string) lipgloss.Style { return lipgloss.NewStyle().Foreground(lipgloss.Color(c)) }
	return formStyles{
		title:  lipgloss.NewStyle().Bold(true),
		muted:  fg("8"),
		bad:    fg("1").Bold(true),
		good:   fg("2").Bold(true),
		key:    fg("3").Bold(true),
		gutter: fg("8"),
		rule:   fg("8"),
	}
}

// NewForms makes the forms' model.
func NewForms(ctx context.Context, opts FormsOptions) *Forms {
	if opts.Dir == "" {
		opts.Dir, _ = os.Getwd()
	}
	start := opts.Start
	if start == nil {
		start = config.Template()
	}
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	m := &Forms{ctx: ctx, opts: opts, d: newFormDraft(start, opts.Dir), st: newFormStyles(), width: 80, height: 24,
		keys: formsKeys{
			Back:   b("shift+tab", "back", "shift+tab"),
			Quit:   b("ctrl+c", "quit", "ctrl+c"),
			Scroll: b("↑/↓ pgup/pgdn", "scroll", "up", "down", "pgup", "pgdown", "home", "end"),
			Run:    b("enter", "run it (after yes)", "enter"),
			Stop:   b("esc", "stop here, keep the file", "esc"),
			Fix:    b("enter", "back to the page", "enter"),
		}}
	m.yes = textinput.New()
	m.yes.Prompt = "> "
	m.yes.CharLimit = 10
	m.yes.SetWidth(12)
	m.review = viewport.New()
	return m
}

// Result is the written config's path once the operator typed yes, and
// whether they did.
func (m *Forms) Result() (string, bool) { return m.path, m.phase == formsDone }

// Init opens the first page.
func (m *Forms) Init() tea.Cmd { return m.enter(m.pages()[0].id) }

type (
	formsTokensMsg struct {
		module string
		tokens []TokenChoice
		err    error
	}
	formsWrittenMsg struct {
		path     string
		raw      []byte
		err      error
		problems []*config.FieldError
	}
)

// maker builds fields for the terminal.
func (m *Forms) maker() formFieldMaker {
	return formFieldMaker{plain: m.opts.Plain, style: m.st.bad}
}

// formKeyMap is huh's keymap with the GUN lines' keys (enter adds a line,
// tab goes on), and the last field's key saying where it leads.
func formKeyMap(last bool) *huh.KeyMap {
	km := huh.NewDefaultKeyMap()
	km.Quit = key.NewBinding(key.WithKeys("ctrl+c"), key.WithDisabled())
	submit := "next page"
	if last {
		submit = "check and write the config"
	}
	km.Input.Submit.SetHelp("enter", submit)
	km.Select.Submit.SetHelp("enter", submit)
	km.Confirm.Submit.SetHelp("enter", submit)
	km.Text.Next = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next"))
	km.Text.Submit = key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", submit))
	km.Text.NewLine = key.NewBinding(key.WithKeys("enter", "alt+enter", "ctrl+j"), key.WithHelp("enter", "new line"))
	km.Text.Editor.SetEnabled(false)
	return km
}

// formTheme is huh's base16 theme (the terminal's own colours); on a short
// terminal fields are not spaced by a blank line.
func formTheme(compact bool) huh.Theme {
	return huh.ThemeFunc(func(dark bool) *huh.Styles {
		s := huh.ThemeBase16(dark)
		if compact {
			s.FieldSeparator = lipgloss.NewStyle().SetString("\n")
		}
		return s
	})
}

// pageIndex finds a page among pages by id (-1 when gone).
func pageIndex(pages []formPage, id string) int {
	for i, p := range pages {
		if p.id == id {
			return i
		}
	}
	return -1
}

// enter builds the page id's form from the draft. The token page first
// needs the module's tokens: it asks cmd for them, then comes back.
func (m *Forms) enter(id string) tea.Cmd {
	if id == "token" && (!m.tokensListed || m.listedFor != m.d.module) && m.opts.Tokens != nil {
		m.phase = formsListing
		module, list, ctx := m.d.module, m.opts.Tokens, m.ctx
		return func() tea.Msg {
			ts, err := list(ctx, module)
			return formsTokensMsg{module: module, tokens: ts, err: err}
		}
	}
	pages := m.pages()
	i := pageIndex(pages, id)
	if i < 0 {
		i = 0
	}
	p := pages[i]
	m.phase, m.page = formsEditing, p.id
	m.fields = p.build(m.maker())
	fs := make([]huh.Field, len(m.fields))
	for j, f := range m.fields {
		fs[j] = f.Field
	}
	m.form = huh.NewForm(huh.NewGroup(fs...)).WithShowHelp(false).WithShowErrors(false).
		WithTheme(formTheme(m.crowded())).WithKeyMap(formKeyMap(i == len(pages)-1))
	m.size()
	return m.form.Init()
}

// crowded reports whether the page's fields, spaced by blank lines and with
// room for a problem under one of them, would not fit the terminal: they
// are then set one under the other.
func (m *Forms) crowded() bool {
	h := 2 // a problem's lines
	for i, f := range m.fields {
		f.WithWidth(m.formWidth())
		h += lipgloss.Height(f.inner().View())
		if i > 0 {
			h++ // the blank line between fields
		}
	}
	return h > m.height-lipgloss.Height(m.head())-2
}

// size fits the form between the page's head and the help line.
func (m *Forms) size() {
	if m.form == nil {
		return
	}
	w := m.formWidth()
	h := m.height - lipgloss.Height(m.head()) - 2
	m.form.WithWidth(w).WithHeight(max(h, 5))
	m.review.SetWidth(m.width)
	m.review.SetHeight(max(m.height-6, 3))
}

func (m *Forms) formWidth() int { return min(m.width, 100) }

// Update is the forms' one state machine.
func (m *Forms) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.size()
		m.setReview()
		return m, nil
	case formsTokensMsg:
		m.tokens, m.tokensErr, m.tokensListed, m.listedFor = msg.tokens, msg.err, true, msg.module
		return m, m.enter("token")
	case formsWrittenMsg:
		return m, m.onWritten(msg)
	case tea.KeyPressMsg:
		if key.Matches(msg, m.keys.Quit) {
			m.phase = formsStopped
			return m, tea.Quit
		}
		switch m.phase {
		case formsReview:
			return m, m.reviewKey(msg)
		case formsProblems:
			if key.Matches(msg, m.keys.Fix) {
				return m, m.enter(m.backTo)
			}
			return m, nil
		case formsEditing:
			if key.Matches(msg, m.keys.Back) && m.onFirstField() {
				return m, m.back()
			}
		default:
			return m, nil
		}
	}
	if m.phase == formsReview {
		var cmd tea.Cmd
		m.yes, cmd = m.yes.Update(msg)
		return m, cmd
	}
	if m.phase != formsEditing || m.form == nil {
		return m, nil
	}
	f, cmd := m.form.Update(msg)
	m.form = f.(*huh.Form)
	if m.form.State == huh.StateCompleted {
		return m, m.next()
	}
	return m, cmd
}

// onFirstField reports whether the page's first field has the focus:
// shift+tab there goes back a page.
func (m *Forms) onFirstField() bool {
	if len(m.fields) == 0 {
		return true
	}
	return m.form.GetFocusedField() == m.fields[0].Field
}

func (m *Forms) back() tea.Cmd {
	pages := m.pages()
	i := pageIndex(pages, m.page)
	if i <= 0 {
		return nil
	}
	return m.enter(pages[i-1].id)
}

// next leaves the page and opens the next one, or, after the last, checks
// and writes the config.
func (m *Forms) next() tea.Cmd {
	pages := m.pages()
	i := pageIndex(pages, m.page)
	m.leave(pages[i])
	pages = m.pages()
	if i = pageIndex(pages, m.page); i+1 < len(pages) {
		return m.enter(pages[i+1].id)
	}
	m.phase = formsWriting
	d := *m.d
	return func() tea.Msg { return writeDraft(&d) }
}

// writeDraft checks the whole config by config.Parse, as `ceremony run
// --config` will read it, and writes it to a new file.
func writeDraft(d *formDraft) formsWrittenMsg {
	path := d.filePath()
	c := d.config()
	c.Rebase(filepath.Dir(path))
	raw, err := config.Marshal(c)
	if err != nil {
		return formsWrittenMsg{err: err}
	}
	if _, err := config.Parse(raw, filepath.Dir(path)); err != nil {
		ps := config.Problems(err)
		if len(ps) == 0 {
			return formsWrittenMsg{err: err}
		}
		return formsWrittenMsg{problems: ps}
	}
	if err := checkFile(d.dir, d.file); err != nil {
		return formsWrittenMsg{problems: []*config.FieldError{{Field: "file", Err: errors.New(strings.TrimPrefix(err.Error(), "config file: "))}}}
	}
	if err := newfile.Write(path, raw, 0o644, nil); err != nil {
		return formsWrittenMsg{err: err}
	}
	// Show the file as it is on disk: that is what the witnesses sign off.
	back, err := os.ReadFile(path)
	return formsWrittenMsg{path: path, raw: back, err: err}
}

func (m *Forms) onWritten(msg formsWrittenMsg) tea.Cmd {
	if len(msg.problems) > 0 || msg.err != nil {
		m.phase, m.problems, m.backTo = formsProblems, nil, "output"
		if msg.err != nil {
			m.problems = []string{msg.err.Error()}
		}
		for i, p := range msg.problems {
			m.problems = append(m.problems, p.Error())
			if i > 0 {
				continue
			}
			best := 0
			for _, pg := range m.pages() {
				if n := pg.owns(p.Field); n > best {
					m.backTo, best = pg.id, n
				}
			}
		}
		return nil
	}
	m.phase, m.path, m.written = formsReview, msg.path, msg.raw
	m.setReview()
	return m.yes.Focus()
}

// setReview puts the written file in the viewport, long lines wrapped (a
// witness reads every character), with line numbers in a gutter so that
// witnesses can name a line.
func (m *Forms) setReview() {
	if m.written == nil {
		return
	}
	content := strings.TrimSuffix(string(m.written), "\n")
	wn := len(fmt.Sprint(strings.Count(content, "\n") + 1))
	m.review.SoftWrap = true
	m.review.LeftGutterFunc = func(g viewport.GutterContext) string {
		switch {
		case g.Soft:
			return m.st.gutter.Render(strings.Repeat(" ", wn) + " ┆ ")
		case g.Index >= g.TotalLines:
			return m.st.gutter.Render(strings.Repeat(" ", wn) + " │ ")
		}
		return m.st.gutter.Render(fmt.Sprintf("%*d │ ", wn, g.Index+1))
	}
	m.review.SetWidth(m.width)
	m.review.SetHeight(max(m.height-6, 3))
	m.review.SetContent(content)
	if m.review.AtBottom() {
		m.seenEnd = true
	}
}

func (m *Forms) reviewKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "up":
		m.review.ScrollUp(1)
	case "down":
		m.review.ScrollDown(1)
	case "pgup":
		m.review.PageUp()
	case "pgdown":
		m.review.PageDown()
	case "home":
		m.review.GotoTop()
	case "end":
		m.review.GotoBottom()
	}
	if m.review.AtBottom() {
		m.seenEnd = true
	}
	switch k.String() {
	case "up", "down", "pgup", "pgdown", "home", "end":
		m.yesErr = ""
	case "esc":
		m.phase = formsStopped
		return tea.Quit
	case "enter":
		switch {
		case strings.TrimSpace(m.yes.Value()) != "yes":
			m.yesErr = "type yes, the whole word, to run this config; esc stops here and keeps the file"
		case !m.seenEnd:
			m.yesErr = "scroll to the end first: the witnesses review the whole file"
		default:
			m.phase = formsDone
			return tea.Quit
		}
		return nil
	default:
		m.yesErr = ""
		var cmd tea.Cmd
		m.yes, cmd = m.yes.Update(k)
		return cmd
	}
	return nil
}

// View draws the current phase.
func (m *Forms) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "ceremony · new config"
	return v
}

func (m *Forms) render() string {
	switch m.phase {
	case formsReview:
		return m.reviewView()
	case formsProblems:
		return m.problemsView()
	case formsListing:
		return m.head() + "\n\n" + m.st.muted.Render("Listing the tokens "+m.d.module+" shows …")
	case formsWriting:
		return m.head() + "\n\n" + m.st.muted.Render("Checking and writing the config …")
	case formsDone, formsStopped:
		return ""
	}
	body := m.head() + "\n" + m.form.View()
	return body + "\n" + m.help()
}

// head is the page's title line and what the page is for.
func (m *Forms) head() string {
	pages := m.pages()
	i := pageIndex(pages, m.page)
	if i < 0 {
		i = 0
	}
	p := pages[i]
	left := m.st.title.Render("Ceremony config · " + p.title)
	right := m.st.muted.Render(fmt.Sprintf("page %d of %d", i+1, len(pages)))
	gap := max(1, m.formWidth()-ansi.StringWidth(left)-ansi.StringWidth(right))
	head := left + strings.Repeat(" ", gap) + right
	if m.phase == formsListing || m.phase == formsWriting {
		return head
	}
	intro := m.st.muted.Render(ansi.Wrap(p.intro, m.formWidth(), ""))
	return head + "\n" + intro + "\n"
}

func (m *Forms) help() string {
	binds := m.form.KeyBinds()
	if m.onFirstField() {
		binds = append(binds, m.keys.Back)
	}
	binds = append(binds, m.keys.Quit)
	var parts []string
	seen := map[string]bool{}
	for _, b := range binds {
		h := b.Help()
		if !b.Enabled() || h.Key == "" || seen[h.Key] {
			continue
		}
		seen[h.Key] = true
		parts = append(parts, m.st.key.Render(h.Key)+" "+m.st.muted.Render(h.Desc))
	}
	return ansi.Truncate(strings.Join(parts, m.st.muted.Render(" · ")), m.width, "…")
}

func (m *Forms) problemsView() string {
	var b strings.Builder
	b.WriteString(m.st.bad.Render("✗ The config is not ready") + "\n\n")
	for _, p := range m.problems {
		for i, l := range strings.Split(ansi.Wrap(p, m.width-4, ""), "\n") {
			lead := "  • "
			if i > 0 {
				lead = "    "
			}
			b.WriteString(lead + l + "\n")
		}
	}
	title := m.backTo
	if i := pageIndex(m.pages(), m.backTo); i >= 0 {
		title = m.pages()[i].title
	}
	b.WriteString("\nNothing was written. " + m.st.key.Render("enter") + " goes back to the page " + m.st.title.Render(title) + ".")
	return b.String()
}

func (m *Forms) reviewView() string {
	name := m.path
	if rel, err := filepath.Rel(m.d.dir, m.path); err == nil && !strings.HasPrefix(rel, "..") {
		name = rel
	}
	lines := strings.Count(string(m.written), "\n")
	left := m.st.title.Render("Review the config · " + name)
	right := m.st.muted.Render(fmt.Sprintf("written, %d lines", lines))
	head := left + strings.Repeat(" ", max(1, m.width-ansi.StringWidth(left)-ansi.StringWidth(right))) + right
	rule := m.st.rule.Render(strings.Repeat("─", m.width))
	pos := m.st.muted.Render("  Read every line with the witnesses: the whole file is on screen.")
	switch {
	case !m.review.AtBottom():
		pos = m.st.key.Render("  ↓ more below") + m.st.muted.Render(": read every line with the witnesses, to the end")
	case m.review.YOffset() > 0:
		pos = m.st.muted.Render("  End of the file.")
	}
	prompt := m.st.title.Render("Type ") + m.st.key.Render("yes") + m.st.title.Render(" to run this ceremony: ") + m.yes.View()
	status := pos
	if m.yesErr != "" {
		status = m.st.bad.Render("✗ " + m.yesErr)
	}
	help := strings.Join([]string{
		m.st.key.Render("↑/↓ pgup/pgdn") + " " + m.st.muted.Render("scroll"),
		m.st.key.Render("enter") + " " + m.st.muted.Render("run it (after yes)"),
		m.st.key.Render("esc") + " " + m.st.muted.Render("stop here, keep the file"),
	}, m.st.muted.Render(" · "))
	return strings.Join([]string{ansi.Truncate(head, m.width, "…"), rule, m.review.View(), rule,
		ansi.Truncate(prompt, m.width, ""), ansi.Truncate(status, m.width, "…"), ansi.Truncate(help, m.width, "…")}, "\n")
}

// RunForms runs the config forms on a terminal (or, with Plain, line by
// line) and returns the written config's path once the operator typed yes.
// Leaving earlier returns ErrFormsStopped, with the path when the config
// was written.
func RunForms(ctx context.Context, opts FormsOptions) (string, error) {
	if opts.In == nil {
		opts.In = os.Stdin
	}
	if opts.Out == nil {
		opts.Out = os.Stdout
	}
	if opts.Plain {
		return runPlainForms(ctx, opts)
	}
	m := NewForms(ctx, opts)
	final, err := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(opts.In), tea.WithOutput(opts.Out)).Run()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return "", err
	}
	path, ok := final.(*Forms).Result()
	if !ok {
		return path, ErrFormsStopped
	}
	return path, nil
}

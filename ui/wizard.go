package ui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ceremony-dev/ceremony/steps"
)

// The wizard is one root model (Wizard) over panes that are told their size:
// the script on the left, the current step on the right, the log below, key
// help at the bottom, and the end screen. State changes only in Update; IO
// only in commands (the Engine runs the ceremony); panes get their data in
// sync, after each Update, and View only renders.

// WizardOptions say what the wizard shows around the run.
type WizardOptions struct {
	// Title heads the screen: "ceremony run · ceremony.yaml".
	Title string
	// Plan is the script; nil when the job shows it later (the demo
	// builds its plan after starting its scratch components).
	Plan *steps.Plan
	// ResumeHint tells the operator how to continue after stopping:
	// "ceremony run --config ceremony.yaml".
	ResumeHint string
}

// wizStep is what the wizard knows of one row of the script: a step of the
// plan, or the transcript key's generation shown before step 1 (earlyKey).
type wizStep struct {
	step     *steps.Step
	num      int // the step's number in the plan; -1 for the transcript key's row
	status   status
	progress string    // the last StepProgress message
	began    time.Time // when the step last started, for the estimate
	result   *steps.Result
	err      error
	skipAsk  bool // the operator answered skip: the next StepSkipped is theirs
	errShown bool // the failure question under the step says the error already
}

type phase int

const (
	phaseRun      phase = iota
	phaseStopping       // quit confirmed: waiting for the run to end
	phaseEnd            // the end screen
)

type overlay int

const (
	noOverlay overlay = iota
	quitOverlay
	deviationOverlay
)

// Wizard is the terminal wizard's root model.
type Wizard struct {
	c      Common
	engine *Engine
	opts   WizardOptions
	width  int
	height int

	plan     *steps.Plan
	rows     []wizStep // the script's rows: the plan's steps and the transcript key's
	early    int       // the transcript key's row, or -1
	current  int       // the row the run is at
	selected int       // the row the right pane shows
	follow   bool      // the right pane follows the run
	finished bool      // PlanFinished came: the journal is sealed

	script  *scriptPane
	detail  *detailPane
	log     *logPane
	prog    runProgress
	end     *endPane
	spinner spinner.Model
	ticking bool
	help    help.Model

	ask    *questionMsg // a gate or a failure, waiting for its answer
	askAt  int          // the row it is about
	secret *secretMsg   // a secret prompt, waiting for its value
	input  textinput.Model
	over   overlay
	devs   [2]textinput.Model // a deviation's text and who reports it
	devAt  int

	phase    phase
	runErr   error
	verified *verifiedMsg
	sealed   string   // the PlanFinished message: where the transcript is
	after    []string // narration after the ceremony (the demo's signing), for the end screen
}

// NewWizard makes the wizard over engine; Init starts the engine's job.
func NewWizard(engine *Engine, opts WizardOptions) *Wizard {
	c := Common{Styles: NewStyles(), Keys: DefaultKeys()}
	m := &Wizard{c: c, engine: engine, opts: opts, follow: true,
		script: &scriptPane{c: c}, detail: &detailPane{c: c}, log: newLogPane(c), prog: newRunProgress(c.Styles), end: &endPane{c: c},
		spinner: spinner.New(spinner.WithSpinner(spinner.Points), spinner.WithStyle(c.Styles.States[stRunning])),
		help:    help.New(), input: textinput.New()}
	m.help.Styles.ShortKey, m.help.Styles.ShortDesc, m.help.Styles.ShortSeparator = c.Styles.HelpKey, c.Styles.HelpDsc, c.Styles.Muted
	for i := range m.devs {
		m.devs[i] = textinput.New()
		m.devs[i].Prompt = "> "
		m.devs[i].CharLimit = 500
	}
	m.devs[1].Placeholder = "operator, or a witness's name"
	if opts.Plan != nil {
		m.setPlan(opts.Plan)
	}
	m.sync()
	return m
}

// Init starts the ceremony and listens to it.
func (m *Wizard) Init() tea.Cmd { return tea.Batch(m.engine.start(), m.engine.next()) }

// setPlan makes the script's rows: the plan's steps in order, and right
// after preflight the transcript key's own row (earlyKey).
func (m *Wizard) setPlan(p *steps.Plan) {
	m.plan, m.early = p, -1
	m.rows = make([]wizStep, 0, len(p.Steps)+1)
	e := earlyKey(p)
	for i := range p.Steps {
		m.rows = append(m.rows, wizStep{step: &p.Steps[i], num: i})
		if i == 0 && e != nil {
			m.early = len(m.rows)
			m.rows = append(m.rows, wizStep{step: e, num: -1})
		}
	}
}

// rowOf is the script's row of plan step i.
func (m *Wizard) rowOf(i int) int {
	if m.early >= 0 && i >= m.early {
		return i + 1
	}
	return i
}

// Update is the wizard's one switch over what happened.
func (m *Wizard) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	m.sync()
	return m, cmd
}

func (m *Wizard) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return nil
	case eventMsg:
		return tea.Batch(m.onEvent(msg.Event), m.engine.next())
	case questionMsg:
		return tea.Batch(m.onQuestion(msg), m.engine.next())
	case secretMsg:
		m.secret = &msg
		m.input = newSecretInput()
		m.setStatus(m.current, stWaiting)
		m.log.add(m.c.Styles.Warn.Render("secret needed: " + msg.prompt))
		return tea.Batch(m.input.Focus(), m.engine.next())
	case narrationMsg:
		m.log.add(string(msg))
		if m.finished {
			m.after = append(m.after, string(msg))
		}
		return m.engine.next()
	case planMsg:
		m.setPlan(msg.Plan)
		return m.engine.next()
	case verifiedMsg:
		m.verified = &msg
		return m.engine.next()
	case deviationMsg:
		if msg.err != nil {
			m.log.add(m.c.Styles.Bad.Render("deviation NOT recorded: " + msg.err.Error()))
		} else {
			m.log.add(m.c.Styles.OK.Render("deviation recorded in the transcript: ") + msg.text)
		}
		return nil
	case runDoneMsg:
		return m.onRunDone(msg.err)
	case spinner.TickMsg:
		if !m.anyRunning() {
			m.ticking = false
			return nil
		}
		var cmd tea.Cmd
		m.spinner, cmd = m.spinner.Update(msg)
		return cmd
	case tea.InterruptMsg:
		// SIGINT while input is not a terminal: as ctrl+c.
		return m.onKey(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	case tea.KeyPressMsg:
		return m.onKey(msg)
	case tea.PasteMsg:
		return m.forwardToInput(msg)
	}
	return m.forwardToInput(msg) // the cursor's blink
}

func (m *Wizard) onEvent(e steps.Event) tea.Cmd {
	var b strings.Builder
	Printer(&b)(e)
	for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		m.log.add(eventStyle(m.c.Styles, e.Kind).Render(l))
	}
	if e.Kind == steps.PlanFinished {
		m.finished, m.sealed = true, e.Message
		return nil
	}
	if m.plan == nil || e.Index < 0 || e.Index >= len(m.plan.Steps) {
		return nil
	}
	r := &m.rows[m.rowOf(e.Index)]
	m.at(m.rowOf(e.Index))
	if e.Index == 0 {
		m.settleEarly(e)
	}
	switch e.Kind {
	case steps.StepStarted:
		r.status, r.progress, r.err, r.began = stRunning, "", nil, e.Time
		return m.tick()
	case steps.StepProgress:
		r.progress = e.Message
	case steps.StepFinished:
		r.status, r.result, r.progress = stDone, e.Result, ""
		if !r.began.IsZero() {
			m.prog.finished(e.Time.Sub(r.began))
		}
	case steps.StepSkipped:
		r.status = stRestored
		if r.skipAsk {
			r.status = stSkipped
		}
	case steps.StepFailed:
		r.status, r.err = stFailed, e.Err
	}
	return nil
}

func eventStyle(st Styles, k steps.EventKind) lipgloss.Style {
	switch k {
	case steps.StepFailed:
		return st.Bad
	case steps.StepFinished, steps.PlanFinished:
		return st.OK
	case steps.StepProgress:
		return st.Muted
	}
	return lipgloss.NewStyle()
}

// newDeviation is a deviation as typed: what happened (required) and who
// reports it ("" or "operator" is the operator).
func newDeviation(text, by string) (steps.Deviation, error) {
	text, by = strings.TrimSpace(text), strings.TrimSpace(by)
	if text == "" {
		return steps.Deviation{}, errors.New("say what happened")
	}
	if strings.EqualFold(by, "operator") {
		by = ""
	}
	return steps.Deviation{Text: text, By: by}, nil
}

func reporter(d steps.Deviation) string {
	if d.By == "" {
		return "the operator"
	}
	return d.By
}

// at makes step i the one the run is at; the right pane follows it unless
// the operator is looking at another.
func (m *Wizard) at(i int) {
	m.current = i
	if m.follow && m.selected != i {
		m.selected = i
		m.detail.top()
	}
}

func (m *Wizard) setStatus(i int, s status) {
	if i >= 0 && i < len(m.rows) {
		m.rows[i].status = s
	}
}

func (m *Wizard) tick() tea.Cmd {
	if m.ticking {
		return nil
	}
	m.ticking = true
	return m.spinner.Tick
}

func (m *Wizard) anyRunning() bool {
	return m.phase == phaseRun && m.current < len(m.rows) && m.rows[m.current].status == stRunning
}

func (m *Wizard) onQuestion(q questionMsg) tea.Cmd {
	i := m.rowOf(q.q.Index)
	if q.q.Kind == steps.Confirm && m.early >= 0 && signsTranscript(q.q.Step) {
		// The runner asks the transcript key's gate during preflight,
		// before the key is made: the question is about the key's row.
		i = m.early
	}
	m.ask, m.askAt = &q, i
	m.at(i)
	m.follow = true
	m.selected = i
	if q.q.Kind == steps.Confirm {
		m.setStatus(i, stWaiting)
		m.input = newGateInput()
		m.log.add(m.c.Styles.Warn.Render(fmt.Sprintf("gate: %s asks for a typed yes", m.rowRef(i))))
		return m.input.Focus()
	}
	return nil
}

// answer replies to the pending question.
func (m *Wizard) answer(a steps.Answer) {
	q, i := m.ask, m.askAt
	m.ask = nil
	m.input.Blur()
	q.reply <- a
	what := map[steps.Answer]string{steps.Proceed: "confirmed by typing yes", steps.Retry: "retry", steps.Skip: "skip", steps.Abort: "abort"}[a]
	m.log.add(fmt.Sprintf("operator: %s (%s)", what, m.rowRef(i)))
	switch {
	case a == steps.Proceed && i == m.early:
		// The key is made now, while preflight ends.
		m.setStatus(i, stRunning)
	case (a == steps.Proceed || a == steps.Retry) && !m.runningBefore(i):
		m.setStatus(i, stRunning)
	case a == steps.Proceed:
		// A gate asked ahead of the run: the step runs when the run
		// gets there.
		m.setStatus(i, stPending)
	case a == steps.Skip:
		m.rows[i].skipAsk = true
	}
}

// settleEarly ends the transcript key's row with preflight, which makes
// the key at its end: done when the operator let it be made, found again
// (restored) when preflight passed without asking (a resumed ceremony), or
// failed with preflight once it was being made.
func (m *Wizard) settleEarly(e steps.Event) {
	if m.early < 0 {
		return
	}
	r := &m.rows[m.early]
	switch {
	case e.Kind == steps.StepFinished && r.status == stRunning:
		r.status = stDone
	case e.Kind == steps.StepFinished && r.status == stPending:
		r.status = stRestored
	case e.Kind == steps.StepFailed && r.status == stRunning:
		r.status, r.err = stFailed, e.Err
	}
}

// rowRef names row i in a sentence: "step 3 Create the root key".
func (m *Wizard) rowRef(i int) string {
	if r := m.rows[i]; r.num >= 0 {
		return fmt.Sprintf("step %d %s", r.num, r.step.Title)
	}
	return "the transcript key before step 1"
}

// position says where row i is in the plan, for the header: "step 3 of 7".
func (m *Wizard) position(i int) string {
	if r := m.rows[i]; r.num >= 0 {
		return fmt.Sprintf("step %d of %d", r.num, len(m.plan.Steps)-1)
	}
	return "before step 1"
}

// earlyKey is the transcript key's generation as a script row of its own,
// before step 1. The runner makes that key at the end of preflight, before
// the journal's header, which it signs, and asks its gate then; the key's
// plan step, after the CA, has the CA certify it. Shown only at its plan
// step, the first gate would be about a step further down the script. The
// transcript is unchanged: this row is how the wizard shows the run.
func earlyKey(p *steps.Plan) *steps.Step {
	for i := 1; i < len(p.Steps); i++ {
		if signsTranscript(&p.Steps[i]) {
			return earlyStep(&p.Steps[i], i)
		}
	}
	return nil
}

// earlyStep is the generation of the transcript key that step s (number i)
// declares: its key alone, without the certificate the step issues later.
func earlyStep(s *steps.Step, i int) *steps.Step {
	k := s.Keys[slices.IndexFunc(s.Keys, func(k steps.Key) bool { return k.SignsTranscript })]
	return &steps.Step{ID: s.ID, Title: "Transcript key", Irreversible: true, Keys: []steps.Key{k},
		Inputs: map[string]any{"label": k.Label, "key": k.Type},
		Explain: fmt.Sprintf("Generate the key that signs the ceremony's transcript, inside the token like every key. "+
			"It comes first, before step 1, on purpose: every entry of the transcript is signed, the very first included, "+
			"so this key must exist before anything is recorded. It is made as soon as preflight has passed, before any "+
			"other key; step %d has the CA certify it, once the CA exists.", i)}
}

func signsTranscript(s *steps.Step) bool {
	return s != nil && slices.ContainsFunc(s.Keys, func(k steps.Key) bool { return k.SignsTranscript })
}

// runningBefore reports a step before i still running: the question about
// step i was asked ahead of the run.
func (m *Wizard) runningBefore(i int) bool {
	return slices.ContainsFunc(m.rows[:min(i, len(m.rows))], func(r wizStep) bool { return r.status == stRunning })
}

func (m *Wizard) onRunDone(err error) tea.Cmd {
	m.runErr = err
	if m.phase == phaseStopping {
		return tea.Quit
	}
	m.phase, m.ask, m.secret, m.over = phaseEnd, nil, nil, noOverlay
	m.end.top()
	return nil
}

func (m *Wizard) onKey(k tea.KeyPressMsg) tea.Cmd {
	keys := m.c.Keys
	switch {
	case m.phase == phaseEnd:
		switch {
		case key.Matches(k, keys.LeaveEnd):
			return tea.Quit
		case key.Matches(k, keys.ScrollUp):
			m.end.scroll(-pageOr(k, m.end.page()))
		case key.Matches(k, keys.ScrollDown):
			m.end.scroll(pageOr(k, m.end.page()))
		}
		return nil
	case m.phase == phaseStopping:
		if key.Matches(k, keys.ForceQuit) {
			return tea.Quit
		}
		return nil
	case m.over == quitOverlay:
		switch {
		case key.Matches(k, keys.Yes):
			m.stop()
		case key.Matches(k, keys.No):
			m.over = noOverlay
		}
		return nil
	case m.over == deviationOverlay:
		return m.onDeviationKey(k)
	case m.secret != nil:
		switch {
		case key.Matches(k, keys.ForceQuit):
			m.over = quitOverlay
		case key.Matches(k, keys.Cancel):
			m.replySecret(nil, errors.New("refused at the prompt"))
		case key.Matches(k, keys.Submit):
			m.replySecret([]byte(m.input.Value()), nil)
		default:
			return m.forwardToInput(k)
		}
		return nil
	}
	// A focused field takes every letter, hotkeys' included: an operator
	// typing must never open a form or a question by a stray d or q.
	// ctrl+c still asks to stop, esc leaves the field for the hotkeys, and
	// keys that type nothing (arrows, pgdn) still move and scroll.
	typing := m.gateField() && m.input.Focused()
	if typing && k.Text != "" {
		return m.onGateKey(k)
	}
	switch {
	case key.Matches(k, keys.ForceQuit) || !typing && key.Matches(k, keys.Quit):
		m.over = quitOverlay
	case typing && key.Matches(k, keys.Cancel):
		m.input.Blur()
	case key.Matches(k, keys.Deviation):
		m.over = deviationOverlay
		m.devAt = 0
		m.devs[0].Reset()
		m.devs[1].Reset()
		m.devs[1].Blur()
		return m.devs[0].Focus()
	case key.Matches(k, keys.Up):
		m.browse(-1)
	case key.Matches(k, keys.Down):
		m.browse(1)
	case key.Matches(k, keys.PageUp):
		m.detail.scroll(-m.detail.page())
	case key.Matches(k, keys.PageDown):
		m.detail.scroll(m.detail.page())
	case key.Matches(k, keys.Follow):
		m.follow = true
		m.at(m.current)
	case m.gateField() && !m.input.Focused():
		// Out of the field: tab or enter goes back to it, and a letter
		// that is no hotkey is typed there (esc, then "yes", works).
		if key.Matches(k, keys.NextField, keys.Submit) {
			return m.input.Focus()
		}
		if k.Text != "" {
			return tea.Batch(m.input.Focus(), m.onGateKey(k))
		}
	case m.gateField():
		return m.onGateKey(k)
	case m.ask != nil && m.ask.q.Kind == steps.Failed:
		switch {
		case key.Matches(k, keys.Retry):
			m.answer(steps.Retry)
		case key.Matches(k, keys.Skip) && m.ask.q.CanSkip:
			m.answer(steps.Skip)
		case key.Matches(k, keys.Abort):
			m.answer(steps.Abort)
		}
	}
	return nil
}

// pageOr scrolls by a page for page keys and by a line for arrows.
func pageOr(k tea.KeyPressMsg, page int) int {
	if s := k.String(); s == "pgup" || s == "pgdown" {
		return page
	}
	return 1
}

// onGateKey types into the gate's field. Only a typed "yes" and Enter go
// on: Enter alone, or on anything else, does nothing but say so.
func (m *Wizard) onGateKey(k tea.KeyPressMsg) tea.Cmd {
	if key.Matches(k, m.c.Keys.Submit) {
		if m.input.Value() == "yes" {
			m.answer(steps.Proceed)
			return m.tick()
		}
		if m.input.Value() != "" {
			// What was refused goes, so the next try starts clean.
			m.input.Reset()
			m.input.Err = errNotYes
		}
		return nil
	}
	return m.forwardToInput(k)
}

var errNotYes = errors.New(`only "yes" goes on`)

// gateField reports a gate waiting for its typed yes.
func (m *Wizard) gateField() bool { return m.ask != nil && m.ask.q.Kind == steps.Confirm }

func (m *Wizard) onDeviationKey(k tea.KeyPressMsg) tea.Cmd {
	keys := m.c.Keys
	switch {
	case key.Matches(k, keys.Cancel):
		m.over = noOverlay
		return nil
	case key.Matches(k, keys.NextField):
		m.devs[m.devAt].Blur()
		m.devAt = 1 - m.devAt
		return m.devs[m.devAt].Focus()
	case key.Matches(k, keys.Submit):
		d, err := newDeviation(m.devs[0].Value(), m.devs[1].Value())
		if err != nil {
			m.devs[0].Err = err
			return nil
		}
		m.over = noOverlay
		m.log.add(fmt.Sprintf("deviation by %s sent to the journal: %s", reporter(d), d.Text))
		return m.engine.deviate(d)
	}
	var cmd tea.Cmd
	m.devs[m.devAt], cmd = m.devs[m.devAt].Update(k)
	return cmd
}

func (m *Wizard) forwardToInput(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	switch {
	case m.over == deviationOverlay:
		m.devs[m.devAt], cmd = m.devs[m.devAt].Update(msg)
	case m.secret != nil || (m.ask != nil && m.ask.q.Kind == steps.Confirm):
		m.input, cmd = m.input.Update(msg)
	}
	return cmd
}

// replySecret hands the typed secret to the engine and forgets the field.
func (m *Wizard) replySecret(v []byte, err error) {
	s := m.secret
	m.secret = nil
	m.input.Reset()
	m.input.Blur()
	s.reply <- secretReply{v, err}
	if err != nil {
		m.log.add(m.c.Styles.Warn.Render(s.prompt + ": " + err.Error()))
	} else {
		m.log.add(s.prompt + ": entered (not shown)")
	}
	m.setStatus(m.current, stRunning)
}

// stop ends the run at the operator's word: a pending question is answered
// abort (a gate records why), the run's context is cancelled, and the
// wizard waits for the run to end so the journal closes cleanly.
func (m *Wizard) stop() {
	m.over = noOverlay
	if m.ask != nil {
		m.answer(steps.Abort)
	}
	if m.secret != nil {
		m.replySecret(nil, errors.New("stopped by the operator"))
	}
	m.phase = phaseStopping
	m.log.add(m.c.Styles.Warn.Render("stopping: the step in progress is interrupted; the journal stays resumable"))
	m.engine.stop()
}

// browse moves the right pane to another step; f (or the next question)
// follows the run again.
func (m *Wizard) browse(d int) {
	if len(m.rows) == 0 {
		return
	}
	m.selected = min(max(m.selected+d, 0), len(m.rows)-1)
	m.follow = m.selected == m.current
	m.detail.top()
}

func newGateInput() textinput.Model {
	in := textinput.New()
	in.Prompt = "> "
	in.CharLimit = 4 // "yes" and one more: what is typed stays in view
	in.Validate = func(s string) error {
		if !strings.HasPrefix("yes", s) {
			return errNotYes
		}
		return nil
	}
	return in
}

// newSecretInput is a masked field: the value is never rendered, only one
// bullet per character typed.
func newSecretInput() textinput.Model {
	in := textinput.New()
	in.Prompt = "> "
	in.EchoMode = textinput.EchoPassword
	in.EchoCharacter = '•'
	in.CharLimit = 256
	return in
}

// sync hands the panes what they show, sized to the terminal.
func (m *Wizard) sync() {
	w, h := m.width, m.height
	logH := 0
	if h >= 16 {
		logH = min(max(h/5, 3), 12) + 1
	}
	bodyH := max(h-2-logH, 3)
	scriptW := 0
	if w >= 64 {
		// Narrow terminals give the script more of the width, so titles
		// stay readable; wide ones give it to the step's text.
		scriptW = min(max(w*43/100, 26), 56)
		if w >= 100 {
			scriptW = min(w*38/100, 56)
		}
	}
	m.script.SetSize(scriptW, bodyH)
	m.detail.SetSize(w-scriptW, bodyH)
	m.log.SetSize(w, logH)
	m.log.status = ""
	if m.phase == phaseRun && m.plan != nil {
		// While the run waits for a person, no time is running out.
		m.log.status = m.prog.view(m.countDone(), len(m.plan.Steps), w-10, m.ask == nil && m.secret == nil)
	}
	m.end.SetSize(w, max(h-2, 3))
	m.help.SetWidth(w)

	m.script.rows, m.script.last, m.script.selected, m.script.current = m.rows, len(m.rows)-1, m.selected, m.current
	if m.plan != nil && m.selected < len(m.rows) {
		m.script.last = len(m.plan.Steps) - 1
		var prev *wizStep
		justDone := ""
		// While a gate waits, the step just made stays in view, so its
		// fingerprints can be read aloud before anything else happens.
		if r := m.rows[m.selected]; r.status == stWaiting && m.selected > 0 && m.rows[m.selected-1].result != nil && makesSomething(*m.rows[m.selected-1].step) {
			prev, justDone = &m.rows[m.selected-1], m.rowRef(m.selected-1)
		}
		row := m.rows[m.selected]
		row.errShown = m.ask != nil && m.ask.q.Kind == steps.Failed && m.askAt == m.selected && !strings.Contains(stepError(m.ask.q.Step, m.ask.q.Err), "\n")
		title := fmt.Sprintf("Step %d of %d · %s", row.num, len(m.plan.Steps)-1, row.step.Title)
		if row.num < 0 {
			title = "Before step 1 · " + row.step.Title
		}
		m.detail.show(title, row, justDone, prev, m.spinner.View())
	}
	// Fields scroll within the pane rather than run past its edge.
	fieldW := max(m.detail.inner()-3, 8)
	if m.secret != nil {
		m.input.SetWidth(fieldW)
	} else {
		m.input.SetWidth(4) // the gate's field: "yes" and the cursor, after its prompt
	}
	m.devs[0].SetWidth(fieldW)
	m.devs[1].SetWidth(fieldW)
	m.detail.footer, m.detail.frame = m.footer(m.detail.inner()), m.ask != nil || m.secret != nil || m.over != noOverlay
	if m.phase == phaseEnd {
		m.end.set(m.endTitle(), m.endLines(m.end.inner()), m.runErr != nil)
	}
	if m.phase == phaseRun && m.plan == nil {
		m.detail.footer = m.footer(max(m.width-4, 1))
	}
}

// View renders the screen; it changes nothing.
func (m *Wizard) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = m.windowTitle()
	if n := len(m.rows); n > 0 && m.phase == phaseRun {
		n = len(m.plan.Steps)
		v.ProgressBar = tea.NewProgressBar(tea.ProgressBarDefault, 100*m.countDone()/n)
	}
	return v
}

func (m *Wizard) render() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	var parts []string
	parts = append(parts, m.header())
	switch {
	case m.phase == phaseEnd:
		parts = append(parts, m.end.View())
	case m.plan == nil:
		lines := append([]string{m.spinner.View() + " preparing: nothing is touched until preflight has passed", ""}, m.detail.footer...)
		parts = append(parts, box(m.c.Styles, m.over != noOverlay, "Starting", lines, m.width, m.detail.height))
		if m.log.height > 0 {
			parts = append(parts, m.log.View())
		}
	default:
		body := m.detail.View()
		if m.script.width > 0 {
			body = joinColumns(m.script.View(), body)
		}
		parts = append(parts, body)
		if m.log.height > 0 {
			parts = append(parts, m.log.View())
		}
	}
	parts = append(parts, fitWidth(m.help.ShortHelpView(m.helpKeys()), m.width))
	return strings.Join(parts, "\n")
}

// joinColumns puts two blocks of equal height side by side; cheaper than
// lipgloss.JoinHorizontal, which measures every line again.
func joinColumns(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var s strings.Builder
	for i := range al {
		if i > 0 {
			s.WriteByte('\n')
		}
		s.WriteString(al[i])
		if i < len(bl) {
			s.WriteString(bl[i])
		}
	}
	return s.String()
}

func (m *Wizard) countDone() int {
	n := 0
	for _, r := range m.rows {
		if r.num >= 0 && (r.status == stDone || r.status == stRestored || r.status == stSkipped) {
			n++
		}
	}
	return n
}

func (m *Wizard) header() string {
	st := m.c.Styles
	left := " " + st.Header.Render(m.opts.Title)
	right := ""
	switch {
	case m.phase == phaseEnd && m.runErr == nil:
		right = st.OK.Render("✓ complete")
	case m.phase == phaseEnd && m.finished:
		right = st.Warn.Render("✓ complete · ✗ an error after it")
	case m.phase == phaseEnd:
		right = st.Bad.Render("✗ stopped")
	case m.phase == phaseStopping:
		right = st.Warn.Render("stopping…")
	case m.plan != nil:
		r := m.rows[m.current]
		right = fmt.Sprintf("%s %s · %d of %d finished", m.position(m.current), st.States[r.status].Render(r.status.glyph()+" "+r.status.word()), m.countDone(), len(m.plan.Steps))
	}
	gap := m.width - ansi.StringWidth(left) - ansi.StringWidth(right) - 1
	if gap < 1 {
		return fitWidth(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + right + " "
}

// windowTitle names where the ceremony is, for the terminal's tab: a word
// for the state, so a glance at a tab tells whether it waits for someone.
func (m *Wizard) windowTitle() string {
	switch {
	case m.phase == phaseEnd && (m.runErr == nil || m.finished):
		return m.opts.Title + " — complete"
	case m.phase == phaseEnd:
		return m.opts.Title + " — stopped"
	case m.plan == nil:
		return m.opts.Title
	}
	where := m.position(m.current)
	if m.current == m.early {
		where += " (transcript key)"
	}
	return fmt.Sprintf("%s — %s · %s", m.opts.Title, where, m.rows[m.current].status.word())
}

// helpKeys is the key help for what the wizard waits for now.
func (m *Wizard) helpKeys() []key.Binding {
	k := m.c.Keys
	switch {
	case m.phase == phaseEnd:
		return []key.Binding{k.ScrollDown, k.LeaveEnd}
	case m.phase == phaseStopping:
		return []key.Binding{k.ForceQuit}
	case m.over == quitOverlay:
		return []key.Binding{k.Yes, k.No}
	case m.over == deviationOverlay:
		return []key.Binding{withHelp(k.Submit, "record"), k.NextField, k.Cancel}
	case m.secret != nil:
		return []key.Binding{withHelp(k.Submit, "submit"), withHelp(k.Cancel, "refuse"), k.ForceQuit}
	}
	nav := []key.Binding{k.Up, k.PageDown, k.Deviation, k.Quit}
	if !m.follow {
		nav = append([]key.Binding{k.Follow}, nav...)
	}
	switch {
	case m.gateField() && m.input.Focused():
		// Letters are typed: only the keys that type nothing are offered.
		arrows := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "step"))
		leave := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "other keys"))
		return []key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("yes⏎", "go on")), leave, arrows, k.PageDown, withHelp(k.ForceQuit, "quit")}
	case m.gateField():
		return append([]key.Binding{key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "type yes"))}, nav...)
	case m.ask != nil && m.ask.q.Kind == steps.Failed:
		b := []key.Binding{k.Retry}
		if m.ask.q.CanSkip {
			b = append(b, k.Skip)
		}
		return append(append(b, k.Abort), nav...)
	}
	return nav
}

func withHelp(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// makesSomething: the step leaves keys or certificates to check.
func makesSomething(s steps.Step) bool { return len(s.Keys)+len(s.Certs) > 0 }

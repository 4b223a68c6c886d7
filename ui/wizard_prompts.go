package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/ceremony-dev/ceremony/steps"
)

// footer is what the wizard asks now, pinned under the step: the quit or
// deviation form when open, else the pending secret, gate or failure.
func (m *Wizard) footer(w int) []string {
	st := m.c.Styles
	switch {
	case m.phase == phaseStopping:
		return []string{st.Warn.Render("Stopping: waiting for the step in progress to end…")}
	case m.over == quitOverlay:
		out := []string{st.Warn.Render("Stop the ceremony here?")}
		out = append(out, wrapWidth("Everything finished is in the journal. To continue later:", w)...)
		out = append(out, m.resumeLines(w)...)
		return append(out, st.Key.Render("y")+" stop   "+st.Key.Render("n")+" go on")
	case m.over == deviationOverlay:
		out := []string{st.Warn.Render("Record a deviation") + st.Muted.Render(" (a signed transcript entry)")}
		out = append(out, "What happened", m.devs[0].View())
		if m.devs[0].Err != nil {
			out = append(out, st.Bad.Render("✗ "+m.devs[0].Err.Error()))
		}
		return append(out, "Reported by", m.devs[1].View())
	case m.secret != nil:
		return []string{
			st.Warn.Render("Secret needed: ") + st.Prompt.Render(m.secret.prompt),
			st.Muted.Render("typed once for this run; never shown, logged or recorded"),
			m.input.View(),
		}
	case m.ask != nil && m.ask.q.Kind == steps.Confirm:
		return m.gateLines(w)
	case m.ask != nil && m.ask.q.Kind == steps.Failed:
		return m.failureLines(w)
	}
	return nil
}

// gateLines say exactly what the irreversible step will do, and ask for
// "yes" typed out; the hint under the field follows every keystroke.
func (m *Wizard) gateLines(w int) []string {
	st, q := m.c.Styles, m.ask.q
	head := fmt.Sprintf("⚠ Irreversible: step %d of %d will", q.Index, q.Total)
	if len(q.Batch) > 0 {
		head = fmt.Sprintf("⚠ Irreversible: steps %d to %d publish to the Notary server", q.Index, q.Index+len(q.Batch))
	}
	acts := gateActions(q, 4)
	if m.askAt == m.early {
		head = "⚠ Irreversible: first, before step 1:"
		acts = actions(m.rows[m.early].step)
	}
	out := []string{st.Warn.Render(head)}
	for _, a := range acts {
		out = append(out, hangPath("  • ", a, w)...) // names and paths: never broken at a hyphen
	}
	if m.askAt == m.early {
		out = append(out, hangStyled("  ", earlyWhy(q.Index), w, st.Muted)...)
	}
	out = append(out, st.Prompt.Render("Type ")+st.Key.Render("yes")+st.Prompt.Render(" and press Enter to go on: ")+m.input.View())
	v := m.input.Value()
	switch {
	case !m.input.Focused():
		out = append(out, st.Muted.Render("out of the field: d deviation · q stop · tab (or typing yes) goes back"))
	case v == "yes":
		out = append(out, st.OK.Render("✓ Enter goes on"))
	case m.input.Err != nil && v == "":
		out = append(out, st.Bad.Render("✗ only yes goes on")+st.Muted.Render(" · type yes · ctrl+c stops here"))
	case m.input.Err != nil:
		out = append(out, st.Bad.Render("✗ only yes goes on")+st.Muted.Render(" · backspace to correct · ctrl+c stops"))
	case v == "":
		out = append(out, st.Muted.Render("Enter alone does nothing · ctrl+c stops"))
	default:
		out = append(out, st.Muted.Render("keep typing: yes"))
	}
	return out
}

// earlyWhy says why the transcript key's gate comes before step 1; step
// is the key's own step, where the CA certifies it.
func earlyWhy(step int) string {
	return fmt.Sprintf("It comes first on purpose: it signs every transcript entry, the first included. Step %d has the CA certify it.", step)
}

// gateActions are what a gate's answer allows, in words: the step's acts
// and its batch's, at most limit lines, the rest counted.
// A batch's steps only publish, so each is its title.
func gateActions(q steps.Question, limit int) []string {
	if len(q.Batch) == 0 {
		return actions(q.Step)
	}
	out := []string{q.Step.Title}
	for _, s := range q.Batch {
		out = append(out, s.Title)
	}
	if len(out) <= limit {
		return out
	}
	return append(out[:limit-1], fmt.Sprintf("and %d more steps like these (the script lists them)", len(out)-limit+1))
}

// actions are a step's irreversible acts, in words.
func actions(s *steps.Step) []string {
	var out []string
	for _, k := range s.Keys {
		out = append(out, "generate "+keyLine(k))
	}
	for _, c := range s.Certs {
		out = append(out, "write "+certLine(c))
	}
	if s.Publishes != "" {
		out = append(out, "publish "+s.Publishes+" to the Notary server")
	}
	if len(out) == 0 {
		out = append(out, s.Title)
	}
	return out
}

// failureLines give the one-line error, what to do, and the choices.
func (m *Wizard) failureLines(w int) []string {
	st, q := m.c.Styles, m.ask.q
	first, _, _ := strings.Cut(stepError(q.Step, q.Err), "\n")
	out := wrapWidth(st.Bad.Render(fmt.Sprintf("✗ Step %d failed: ", q.Index))+first, w)
	// Five lines hold a network error's cause at 80 columns; a longer one
	// is in the log and the journal whole.
	if len(out) > 5 {
		out = append(out[:4], strings.TrimRight(ansi.Truncate(out[4], w-1, ""), " ")+"…")
	}
	out = append(out, wrapWidth("What to do: fix the cause, then retry. Nothing is lost: the journal keeps every finished step.", w)...)
	choices := st.Key.Render("r") + " retry   "
	if q.CanSkip {
		choices += st.Key.Render("s") + " skip (it can be added later)   "
	}
	return append(out, choices+st.Key.Render("a")+" abort")
}

// resumeLines say how to continue, the command on a line of its own so it
// is never broken.
func (m *Wizard) resumeLines(w int) []string {
	hint := m.opts.ResumeHint
	if hint == "" {
		hint = "the same command"
	}
	lines := wrapPath(hint, w-2) // a path in it is never broken at a hyphen
	for i, l := range lines {
		lines[i] = "  " + m.c.Styles.Code.Render(l)
	}
	return lines
}

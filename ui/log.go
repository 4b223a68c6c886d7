package ui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// logLimit bounds the log pane's memory: a long ceremony's first lines are
// in the transcript and on the plain printer, not needed on screen.
const logLimit = 1000

// logPane is the scrolling log under the panes: the same lines the plain
// printer writes, the operator's answers and the rehearsal's narration.
type logPane struct {
	c             Common
	width, height int
	lines         []string
	status        string // the run's progress, at the right of the rule
}

func newLogPane(c Common) *logPane { return &logPane{c: c} }

func (p *logPane) SetSize(w, h int) { p.width, p.height = w, h }

func (p *logPane) add(line string) {
	p.lines = append(p.lines, strings.ReplaceAll(line, "\t", "    "))
	if len(p.lines) > logLimit {
		p.lines = append(p.lines[:0], p.lines[len(p.lines)-logLimit:]...)
	}
}

// View is a rule titled Log, then the last lines that fit.
func (p *logPane) View() string {
	if p.height <= 0 {
		return ""
	}
	st := p.c.Styles
	rule := st.Border.Render("── ") + st.Title.Render("Log") + st.Border.Render(" "+strings.Repeat("─", max(p.width-7, 0)))
	if w := ansi.StringWidth(p.status); p.status != "" && p.width-w-10 >= 0 {
		rule = st.Border.Render("── ") + st.Title.Render("Log") + st.Border.Render(" "+strings.Repeat("─", p.width-w-10)+" ") + p.status + st.Border.Render(" ─")
	}
	out := make([]string, 0, p.height)
	out = append(out, rule)
	n := p.height - 1
	start := max(len(p.lines)-n, 0)
	for _, l := range p.lines[start:] {
		out = append(out, fitWidth(" "+l, p.width))
	}
	for len(out) < p.height {
		out = append(out, strings.Repeat(" ", p.width))
	}
	return strings.Join(out, "\n")
}

package ui

import (
	"fmt"
	"strconv"

	"github.com/charmbracelet/x/ansi"

	"github.com/ceremony-dev/ceremony/steps"
)

// scriptPane is the ceremony script on the left: every step with its number,
// a glyph and a word for its state, and its title. Only the rows that fit
// are rendered, around the step shown on the right, so a plan of thousands
// of repositories costs no more to draw than one of ten.
type scriptPane struct {
	c                 Common
	width, height     int
	plan              *steps.Plan
	rows              []wizStep
	selected, current int
}

func (p *scriptPane) SetSize(w, h int) { p.width, p.height = w, h }

func (p *scriptPane) View() string {
	st := p.c.Styles
	inner := p.height - 2
	n := len(p.rows)
	first := 0
	if n > inner {
		first = min(max(p.selected-inner/2, 0), n-inner)
	}
	digits := len(strconv.Itoa(max(n-1, 0)))
	lines := make([]string, 0, inner)
	for i := first; i < n && len(lines) < inner; i++ {
		r := p.rows[i]
		state := st.States[r.status].Render(fmt.Sprintf("%s %-8s", r.status.glyph(), r.status.word()))
		mark := " "
		if i == p.current && r.status != stPending {
			mark = "›"
		}
		title := fmt.Sprintf("%s%*d ", mark, digits, i)
		room := p.width - 4 - ansi.StringWidth(title) - 11
		t := fitWidth(p.plan.Steps[i].Title, max(room, 1))
		if i == p.selected {
			t = st.Select.Render(t)
		}
		lines = append(lines, title+state+" "+t)
	}
	title := "Script"
	if n > inner && inner > 0 {
		title = fmt.Sprintf("Script %d–%d of %d", first, first+len(lines)-1, n-1)
	}
	return box(st, false, title, lines, p.width, p.height)
}

package ui

import (
	"fmt"
	"strconv"

	"github.com/charmbracelet/x/ansi"
)

// scriptPane is the ceremony script on the left: every step with its number,
// a glyph and a word for its state, and its title. Only the rows that fit
// are rendered, around the step shown on the right, so a plan of thousands
// of repositories costs no more to draw than one of ten.
type scriptPane struct {
	c                 Common
	width, height     int
	rows              []wizStep
	last              int // the plan's last step number
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
	digits := len(strconv.Itoa(max(p.last, 0)))
	lines := make([]string, 0, inner)
	for i := first; i < n && len(lines) < inner; i++ {
		r := p.rows[i]
		state := st.States[r.status].Render(fmt.Sprintf("%s %-8s", r.status.glyph(), r.status.word()))
		mark := " "
		if i == p.current && r.status != stPending {
			mark = "›"
		}
		// The transcript key's row has no number: it is no step of the
		// plan but the end of preflight, before step 1.
		title := fmt.Sprintf("%s%*s ", mark, digits, "")
		if r.num >= 0 {
			title = fmt.Sprintf("%s%*d ", mark, digits, r.num)
		}
		room := p.width - 4 - ansi.StringWidth(title) - 11
		t := fitWidth(r.step.Title, max(room, 1))
		if i == p.selected {
			t = st.Select.Render(t)
		}
		lines = append(lines, title+state+" "+t)
	}
	title := "Script"
	if n > inner && inner > 0 {
		title = fmt.Sprintf("Script %d–%d of %d", max(p.rows[first].num, 0), max(p.rows[first+len(lines)-1].num, 0), p.last)
	}
	return box(st, false, title, lines, p.width, p.height)
}

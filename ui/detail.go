package ui

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/ceremony-dev/ceremony/steps"
)

// detailPane is the right side: one step — what it will do and why, the
// seed commands it replaces, its inputs, what it declares, and once it ran
// its result — with the wizard's question pinned at the bottom, so a gate
// never scrolls out of sight however long the step's text.
type detailPane struct {
	c             Common
	width, height int
	offset        int

	title    string // "Step 3 of 7 · Create the root key"
	step     *steps.Step
	row      wizStep
	justDone string   // names the step just finished, while a gate waits
	prev     *wizStep // that step
	spin     string
	footer   []string
	frame    bool
}

func (p *detailPane) SetSize(w, h int) { p.width, p.height = w, h }
func (p *detailPane) inner() int       { return max(p.width-4, 1) }
func (p *detailPane) page() int        { return max(p.height-2-len(p.footer)-1, 1) }
func (p *detailPane) top()             { p.offset = 0 }
func (p *detailPane) scroll(n int)     { p.offset = max(p.offset+n, 0) }

func (p *detailPane) show(title string, r wizStep, justDone string, prev *wizStep, spin string) {
	p.title, p.step, p.row, p.justDone, p.prev, p.spin = title, r.step, r, justDone, prev, spin
}

func (p *detailPane) View() string {
	if p.step == nil {
		return box(p.c.Styles, p.frame, "", p.footer, p.width, p.height)
	}
	w := p.inner()
	body := stepLines(p.c.Styles, p.step, p.row, p.spin, w)
	if p.prev != nil {
		head := []string{p.c.Styles.OK.Render("✓ just done: " + p.justDone)}
		head = append(head, resultLines(p.c.Styles, p.prev.result.Summary, w)...)
		body = append(append(head, ""), body...)
	}
	room := p.height - 2
	if len(p.footer) > 0 {
		room -= len(p.footer) + 1
	}
	room = max(room, 1)
	p.offset = min(p.offset, max(len(body)-room, 0))
	lines := slices.Clone(body[p.offset:min(p.offset+room, len(body))])
	if len(body)-p.offset > room && room > 1 {
		// The last row says how much is below; no blank row above it.
		lines = lines[:room-1]
		for len(lines) > 1 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		more := len(body) - p.offset - len(lines)
		lines = append(lines, p.c.Styles.Muted.Render("  ↓ "+plural(more, "more line")+" (pgdn)"))
	}
	if len(p.footer) > 0 {
		for len(lines) < room {
			lines = append(lines, "")
		}
		lines = append(lines, p.c.Styles.Border.Render(strings.Repeat("┄", w)))
		lines = append(lines, p.footer...)
	}
	return box(p.c.Styles, p.frame, p.title, lines, p.width, p.height)
}

// stepLines is a step as the witnesses read it: state, result or error,
// what and why, what it makes, its inputs and the seed commands it replaces.
func stepLines(st Styles, s *steps.Step, r wizStep, spin string, w int) []string {
	var out []string
	state := st.States[r.status].Render(r.status.glyph() + " " + r.status.word())
	switch r.status {
	case stRunning:
		state = spin + " " + st.States[stRunning].Render("running")
		if r.progress != "" {
			state += " · " + r.progress
		}
	case stWaiting:
		state += " for the operator"
	case stRestored:
		state += ": finished in an earlier run, found again on the token and on disk"
	case stSkipped:
		state += " by the operator after it failed (recorded as a deviation)"
	case stFailed:
		state += " (recorded in the journal)"
	case stPending:
		if s.Irreversible {
			state += " · irreversible: asks before it runs"
		}
	}
	out = append(out, wrapWidth(state, w)...)
	if r.result != nil {
		out = append(out, "", st.Label.Render("Result"))
		out = append(out, resultLines(st, r.result.Summary, w)...)
	}
	if r.err != nil && !r.errShown {
		out = append(out, "", st.Bad.Render("Error"))
		for _, l := range strings.Split(stepError(s, r.err), "\n") {
			out = append(out, wrapWidth(l, w)...)
		}
	}
	out = append(out, "")
	out = append(out, wrapWidth(s.Explain, w)...)
	out = append(out, "")
	names := map[string]string{"makes key": "Makes", "writes": "Writes", "publishes": "Publishes", "replaces": "Replaces"}
	last := ""
	for _, it := range stepItems(*s) {
		label := names[it.label]
		lead := ""
		if label != last {
			lead = label
		}
		last = label
		style := lipgloss.NewStyle()
		if it.code {
			style = st.Code
		}
		out = append(out, hangStyled(st.Label.Render(fmt.Sprintf("%-10s", lead)), it.value, w, style)...)
	}
	if len(s.Inputs) > 0 {
		keys := make([]string, 0, len(s.Inputs))
		for k := range s.Inputs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		lead := st.Label.Render(fmt.Sprintf("%-10s", "Inputs"))
		for _, k := range keys {
			out = append(out, hangIndent(lead, fmt.Sprintf("%s: %v", k, s.Inputs[k]), w)...)
			lead = strings.Repeat(" ", 10)
		}
	}
	return out
}

// fingerprintRE finds a SHA-256 in groups of four hex digits, as steps'
// summaries write them.
var fingerprintRE = regexp.MustCompile(`([0-9A-F]{4} ){7,}[0-9A-F]{4}`)

// resultLines lays a step's summary out for reading aloud: one fact per
// line, and each fingerprint on lines of its own, eight groups a line (four
// when narrow), never broken inside a group.
func resultLines(st Styles, summary string, w int) []string {
	var out []string
	for _, part := range strings.Split(summary, "; ") {
		loc := fingerprintRE.FindStringIndex(part)
		if loc == nil {
			out = append(out, hangIndent("  ", part, w)...)
			continue
		}
		if lead := strings.TrimSpace(part[:loc[0]]); lead != "" {
			out = append(out, hangIndent("  ", lead, w)...)
		}
		out = append(out, fingerprintLines(st, part[loc[0]:loc[1]], "    ", w)...)
		if tail := strings.TrimSpace(part[loc[1]:]); tail != "" {
			out = append(out, hangIndent("  ", tail, w)...)
		}
	}
	return out
}

// fingerprintLines sets groups of four hex digits in rows of eight (or
// four, when the width is short), so they are read aloud in the same
// chunks every time.
func fingerprintLines(st Styles, fp, lead string, w int) []string {
	groups := strings.Fields(fp)
	per := 8
	if w-len(lead) < 8*5-1 {
		per = 4
	}
	var out []string
	for i := 0; i < len(groups); i += per {
		out = append(out, lead+st.Code.Render(strings.Join(groups[i:min(i+per, len(groups))], " ")))
	}
	return out
}

// stepError is a step's error without the runner's "step ID: " lead, which
// the pane's title already says.
func stepError(s *steps.Step, err error) string {
	return strings.TrimPrefix(err.Error(), "step "+string(s.ID)+": ")
}

package ui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/ceremony-dev/ceremony/audit"
)

// endPane is the last screen, full width and scrollable: what the ceremony
// made and whether its transcript verifies, or why it stopped.
type endPane struct {
	c             Common
	width, height int
	offset        int
	title         string
	lines         []string
	bad           bool
}

func (p *endPane) SetSize(w, h int) { p.width, p.height = w, h }
func (p *endPane) inner() int       { return max(p.width-4, 1) }
func (p *endPane) page() int        { return max(p.height-3, 1) }
func (p *endPane) top()             { p.offset = 0 }
func (p *endPane) scroll(n int)     { p.offset = max(p.offset+n, 0) }

func (p *endPane) set(title string, lines []string, bad bool) {
	p.title, p.lines, p.bad = title, lines, bad
}

func (p *endPane) View() string {
	room := max(p.height-2, 1)
	p.offset = min(p.offset, max(len(p.lines)-room, 0))
	lines := slices.Clone(p.lines[p.offset:min(p.offset+room, len(p.lines))])
	if more := len(p.lines) - p.offset - room; more > 0 {
		lines[len(lines)-1] = p.c.Styles.Muted.Render("  ↓ " + plural(more, "more line") + " (↓/pgdn)")
	}
	return box(p.c.Styles, p.bad, p.title, lines, p.width, p.height)
}

// endTitle: a sealed journal is a complete ceremony, even when something
// after it (the verification, the demo's signing) went wrong.
func (m *Wizard) endTitle() string {
	if m.runErr != nil && !m.finished {
		return "Ceremony stopped"
	}
	return "Ceremony complete"
}

// endLines are the end screen: on success the keys on the token, the
// certificates with fingerprints to read aloud, the repositories published,
// the transcript and its verification; otherwise the error and how to go on.
func (m *Wizard) endLines(w int) []string {
	st := m.c.Styles
	if m.runErr != nil && !m.finished {
		out := []string{st.Bad.Render("✗ The ceremony did not finish.")}
		for _, l := range strings.Split(m.runErr.Error(), "\n") {
			out = append(out, wrapPath(l, w)...)
		}
		out = append(out, "")
		out = append(out, wrapPath("Nothing is lost: the journal records every finished step. To continue where it stopped:", w)...)
		return append(out, m.resumeLines(w)...)
	}
	var out []string
	if m.runErr != nil {
		out = append(out, st.Bad.Render("✗ After the ceremony: "))
		for _, l := range strings.Split(m.runErr.Error(), "\n") {
			out = append(out, hangPath("  ", l, w)...)
		}
		out = append(out, "")
	}
	var res *audit.Result
	if m.verified != nil {
		res = m.verified.res
	}
	path := strings.TrimPrefix(m.sealed, "ceremony finished; transcript ")
	if res != nil && res.Transcript != "" {
		path = res.Transcript
	}
	out = append(out, pathBlock(st.Label.Render("Transcript  "), path, st.Muted.Render("(sealed)"), w)...)
	switch {
	case m.verified == nil:
		out = append(out, hangPath(st.Label.Render("Verified    "), st.Warn.Render("not checked"), w)...)
	case m.verified.err != nil:
		out = append(out, hangPath(st.Label.Render("Verified    "), st.Bad.Render("could not run: ")+m.verified.err.Error(), w)...)
	case res.OK:
		out = append(out, hangPath(st.Label.Render("Verified    "), st.OK.Render("✓ ")+Verdict(res), w)...)
	default:
		out = append(out, hangPath(st.Label.Render("Verified    "), st.Bad.Render("✗ ")+Verdict(res), w)...)
	}
	if res == nil || res.Ceremony.Tool == "" {
		return append(append(out, m.summaries(w)...), m.afterLines(w)...)
	}
	c := res.Ceremony
	if n := exceptions(c); n != "" {
		out = append(out, hangPath(st.Label.Render("Exceptions  "), st.Warn.Render(n), w)...)
	}
	out = append(out, "", st.Title.Render("Keys on the token"))
	kw := 0
	for _, k := range c.Keys {
		kw = max(kw, len(k.Label))
	}
	for _, k := range c.Keys {
		out = append(out, hangPath("  ", fmt.Sprintf("%-*s  %-10s  id %s", kw, k.Label, k.Type, k.CKAID), w)...)
	}
	out = append(out, "", st.Title.Render("Certificates")+st.Muted.Render(" · SHA-256 fingerprints, to read aloud"))
	for _, cert := range c.Certificates {
		out = append(out, hangPath("  ", st.Code.Render(cert.File)+"  "+cert.Subject, w)...)
		out = append(out, fingerprintLines(st, cert.Fingerprint, "    ", w)...)
	}
	if len(c.Repositories) > 0 {
		out = append(out, "", st.Title.Render("Notary repositories published"))
		for _, r := range c.Repositories {
			ok := st.OK.Render("✓ root.json checked")
			if !r.RootJSONValid {
				ok = st.Bad.Render("✗ root.json NOT valid")
			}
			out = append(out, hangPath("  ", fmt.Sprintf("%s  root.json v%d, root key %s  %s", st.Code.Render(r.GUN), r.RootVersion, abbrev(r.RootKeyID), ok), w)...)
		}
	}
	return append(out, m.afterLines(w)...)
}

// afterLines is what the job told after the ceremony: the demo's delegate
// signing, validation and the notary CLI's view.
func (m *Wizard) afterLines(w int) []string {
	if len(m.after) == 0 {
		return nil
	}
	out := []string{"", m.c.Styles.Title.Render("After the ceremony")}
	for _, l := range m.after {
		l = strings.ReplaceAll(l, "\t", "    ") // docker's "Repository Key:\t…"
		if strings.Contains(strings.TrimSpace(l), "   ") {
			out = append(out, fitWidth("  "+l, w)) // a table (the notary CLI's): cut, never folded
			continue
		}
		lead := len(l) - len(strings.TrimLeft(l, " "))
		out = append(out, hangPath(strings.Repeat(" ", lead+2), strings.TrimLeft(l, " "), w)...)
	}
	return out
}

// summaries stand in for the verified record when there is none: each
// step's own result line, as the run reported it.
func (m *Wizard) summaries(w int) []string {
	out := []string{"", m.c.Styles.Title.Render("Steps")}
	for _, r := range m.rows {
		if r.num < 0 {
			continue // the transcript key's row: its step says what it made
		}
		line := fmt.Sprintf("%s %d %s", r.status.glyph(), r.num, r.step.Title)
		if r.result != nil {
			line += ": " + r.result.Summary
		}
		out = append(out, hangPath("  ", line, w)...)
	}
	return out
}

// pathBlock sets a path after its label, with a note, when all fits a
// line; else the path goes on lines of its own under the label, whole when
// it fits one, broken only after a '/' when longer (wrapPath).
func pathBlock(label, path, note string, w int) []string {
	if ansi.StringWidth(label)+ansi.StringWidth(path)+1+ansi.StringWidth(note) <= w {
		return []string{label + path + " " + note}
	}
	return append([]string{label + note}, hangPath("  ", path, w)...)
}

// exceptions counts what a reader must not miss: deviations, failures.
func exceptions(c audit.Ceremony) string {
	n := map[string]int{}
	for _, e := range c.Events {
		n[e.Kind]++
	}
	var parts []string
	if d := n["deviation"]; d > 0 {
		parts = append(parts, plural(d, "deviation"))
	}
	if f := n["failure"]; f > 0 {
		parts = append(parts, plural(f, "failure")+" (retried or skipped)")
	}
	if r := n["resume"]; r > 0 {
		parts = append(parts, plural(r, "resume"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func abbrev(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Common is what every pane of the wizard shares, passed by value instead
// of package globals.
type Common struct {
	Styles Styles
	Keys   KeyMap
}

// Pane is one region of the wizard: it is told its size and renders exactly
// that many lines of that width, so the root can lay panes side by side.
type Pane interface {
	SetSize(width, height int)
	View() string
}

// status is a step's state on screen. Each has a word and a glyph, so no
// state is told by colour alone (NO_COLOR, a monochrome projector).
type status int

const (
	stPending  status = iota
	stRunning         // the step runs now
	stWaiting         // the step waits for the operator: a gate or a secret
	stDone            // finished in this run
	stFailed          // the step stFailed; the failure is in the journal
	stRestored        // finished in an earlier run, found again on resume
	stSkipped         // stSkipped by the operator after it stFailed
)

func (s status) glyph() string { return [...]string{"○", "▸", "?", "✓", "✗", "↺", "↷"}[s] }
func (s status) word() string {
	return [...]string{"pending", "running", "waiting", "done", "failed", "restored", "skipped"}[s]
}

// KeyMap names every key the wizard answers to, with its help text.
type KeyMap struct {
	Quit, ForceQuit, Deviation     key.Binding
	Up, Down, PageUp, PageDown     key.Binding
	Follow                         key.Binding
	Submit, Cancel, NextField      key.Binding
	Retry, Skip, Abort, Yes, No    key.Binding
	Leave                          key.Binding
	ScrollUp, ScrollDown, LeaveEnd key.Binding
}

// DefaultKeys are the wizard's keys. While a field has focus (a gate's,
// a secret's) it takes every letter: only ctrl+c, esc, enter and the keys
// that type nothing act there.
func DefaultKeys() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:       b("q", "quit", "q", "ctrl+c"),
		ForceQuit:  b("ctrl+c", "quit now", "ctrl+c"),
		Deviation:  b("d", "deviation", "d"),
		Up:         b("↑/k", "step", "up", "k"),
		Down:       b("↓/j", "step", "down", "j"),
		PageUp:     b("pgup", "", "pgup"),
		PageDown:   b("pgdn", "scroll", "pgdown"),
		Follow:     b("f", "follow", "f"),
		Submit:     b("enter", "submit", "enter"),
		Cancel:     b("esc", "cancel", "esc"),
		NextField:  b("tab", "next field", "tab", "shift+tab"),
		Retry:      b("r", "retry", "r"),
		Skip:       b("s", "skip", "s"),
		Abort:      b("a", "abort", "a"),
		Yes:        b("y", "yes, stop", "y"),
		No:         b("n", "no, go on", "n", "esc"),
		ScrollUp:   b("↑", "", "up", "k", "pgup"),
		ScrollDown: b("↓", "scroll", "down", "j", "pgdown"),
		LeaveEnd:   b("enter/q", "leave", "enter", "q", "ctrl+c"),
	}
}

// fit makes s exactly w cells wide: cut with an ellipsis, or padded.
func fitWidth(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if sw := ansi.StringWidth(s); sw <= w {
		return s + strings.Repeat(" ", w-sw)
	}
	return ansi.Truncate(s, w, "…")
}

// wrap breaks s into lines of at most w cells, at spaces when it can.
func wrapWidth(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	return strings.Split(ansi.Wrap(s, w, ""), "\n")
}

// hangIndent wraps s into width w with the first line after lead and the
// rest under it: "Makes  one\n       two".
func hangIndent(lead string, s string, w int) []string {
	return hang(lead, s, w, wrapWidth)
}

// hang is hangIndent with the wrapping given.
func hang(lead, s string, w int, wrap func(string, int) []string) []string {
	lw := ansi.StringWidth(lead)
	lines := wrap(s, w-lw)
	pad := strings.Repeat(" ", lw)
	for i := range lines {
		if i == 0 {
			lines[i] = lead + lines[i]
		} else {
			lines[i] = pad + lines[i]
		}
	}
	return lines
}

// hangStyled is hangIndent with s in style, applied line by line: a
// terminal line ends its styles, so a wrapped span must reopen them. It
// sets what a step makes, writes and replaces: file names, labels and
// commands, broken as wrapPath breaks them, never at a hyphen.
func hangStyled(lead, s string, w int, style lipgloss.Style) []string {
	lw := ansi.StringWidth(lead)
	lines := wrapPath(s, w-lw)
	pad := strings.Repeat(" ", lw)
	for i := range lines {
		l := style.Render(lines[i])
		if i == 0 {
			lines[i] = lead + l
		} else {
			lines[i] = pad + l
		}
	}
	return lines
}

// box frames lines in a rounded border of exactly w×h cells with a title
// in the top edge. Lines are cut or padded to fit; missing lines are blank.
func box(st Styles, frame bool, title string, lines []string, w, h int) string {
	if w < 4 || h < 2 {
		return ""
	}
	edge := st.Border
	if frame {
		edge = st.Focus
	}
	inner := w - 4
	var b strings.Builder
	t := ""
	if title != "" {
		t = " " + ansi.Truncate(title, w-6, "…") + " "
	}
	b.WriteString(edge.Render("╭─") + st.Title.Render(t) + edge.Render(strings.Repeat("─", max(0, w-3-ansi.StringWidth(t)))+"╮"))
	for i := 0; i < h-2; i++ {
		l := ""
		if i < len(lines) {
			l = lines[i]
		}
		b.WriteString("\n" + edge.Render("│") + " " + fitWidth(l, inner) + " " + edge.Render("│"))
	}
	b.WriteString("\n" + edge.Render("╰"+strings.Repeat("─", w-2)+"╯"))
	return b.String()
}

// wrapPath breaks s into lines of at most w cells for text that holds
// paths and commands, which are read and copied: at spaces, a word that
// fits a line is never broken; a longer one (a path) is broken after a '/'
// and, when a piece is still longer than a line, cut with a ↩ at the end
// of the line. Never at a hyphen, where ansi.Wrap (and lipgloss) break
// "ceremony-out". Leading spaces indent every line.
func wrapPath(s string, w int) []string {
	body := strings.TrimLeft(s, " ")
	lead := s[:len(s)-len(body)]
	if w -= len(lead); w < 2 {
		return []string{ansi.Truncate(s, max(w+len(lead), 0), "")}
	}
	var lines []string
	var cur strings.Builder
	cw := 0
	flush := func() {
		lines = append(lines, lead+strings.TrimRight(cur.String(), " "))
		cur.Reset()
		cw = 0
	}
	for _, word := range strings.Split(body, " ") {
		ww := ansi.StringWidth(word)
		if cw > 0 && cw+1+ww <= w {
			cur.WriteByte(' ')
			cur.WriteString(word)
			cw += 1 + ww
			continue
		}
		if cw > 0 {
			flush()
		}
		for _, piece := range splitAfter(word, '/') {
			pw := ansi.StringWidth(piece)
			if cw > 0 && cw+pw > w {
				flush()
			}
			for pw > w {
				lines = append(lines, lead+ansi.Cut(piece, 0, w-1)+"↩")
				piece = ansi.TruncateLeft(piece, w-1, "")
				pw = ansi.StringWidth(piece)
			}
			cur.WriteString(piece)
			cw += pw
		}
	}
	flush()
	return lines
}

// splitAfter cuts s after each sep, keeping it: "/a/b" → "/", "a/", "b".
func splitAfter(s string, sep byte) []string {
	var out []string
	for {
		i := strings.IndexByte(s, sep)
		if i < 0 || i == len(s)-1 {
			return append(out, s)
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
}

// hangPath is hangIndent for text with paths: wrapPath's breaks.
func hangPath(lead, s string, w int) []string {
	return hang(lead, s, w, wrapPath)
}

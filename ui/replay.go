package ui

import (
	"fmt"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/ceremony-dev/ceremony/audit"
)

// Replay is `ceremony replay`: a finished ceremony stepped through,
// read-only, in the wizard's layout. On the left the script, every step with
// its outcome as a glyph and a word; on the right the selected step: its
// lines and whether each verified, its inputs, the keys and certificates it
// made with their fingerprints, the files it recorded, the seed commands it
// replaces. It only reads the audit.Result it is given: the command ran the
// verification (or read the transcript without a CA) before.
type Replay struct {
	res    *audit.Result
	caPath string
	items  []replayItem
	sel    int
	scroll int // the detail pane's first line
	width  int
	height int
	paint  replayPaint
	// detail caches the selected item's lines for the pane's width.
	detail      []string
	detailFor   int
	detailWidth int
}

// ReplayOptions say where the Result came from.
type ReplayOptions struct {
	// CA is the CA certificate file the transcript was verified against;
	// "" when it was read without one (the replay then says it is
	// unverified).
	CA string
}

// NewReplay makes the replay of a verified (or merely read) transcript.
func NewReplay(r *audit.Result, o ReplayOptions) *Replay {
	return &Replay{res: r, caPath: o.CA, items: replayItems(r), width: 80, height: 24, paint: replayStylePaint, detailFor: -1}
}

// Init does nothing: everything the replay shows is in the Result.
func (m *Replay) Init() tea.Cmd { return nil }

// Update moves between steps and scrolls the detail pane; q leaves.
func (m *Replay) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 20), max(msg.Height, 8)
		m.clampScroll()
	case tea.KeyPressMsg:
		switch msg.String() {
		case "q", "ctrl+c", "esc":
			return m, tea.Quit
		case "right", "n", "down", "j", "tab":
			m.selectItem(m.sel + 1)
		case "left", "p", "up", "k", "shift+tab":
			m.selectItem(m.sel - 1)
		case "home", "g":
			m.selectItem(0)
		case "end", "G":
			m.selectItem(len(m.items) - 1)
		case "pgdown", "space", "ctrl+d", "f":
			m.scroll += max(m.layout().detailH-2, 1)
			m.clampScroll()
		case "pgup", "ctrl+u", "b":
			m.scroll -= max(m.layout().detailH-2, 1)
			m.clampScroll()
		case "J", "ctrl+e", "shift+down":
			m.scroll++
			m.clampScroll()
		case "K", "ctrl+y", "shift+up":
			m.scroll--
			m.clampScroll()
		}
	}
	return m, nil
}

func (m *Replay) selectItem(i int) {
	i = min(max(i, 0), len(m.items)-1)
	if i != m.sel {
		m.sel, m.scroll = i, 0
	}
}

// Selected is the index of the item on the right, counting from 0 (the
// header), and its title.
func (m *Replay) Selected() (int, string) { return m.sel, m.items[m.sel].title }

// View draws the banners, the script and the selected item, and the keys.
func (m *Replay) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "ceremony replay · " + filepath.Base(m.res.Transcript)
	return v
}

// replayLayout is the replay's geometry for the current window.
type replayLayout struct {
	banners          []string
	leftW, rightW    int
	paneH            int
	detailW, detailH int
}

func (m *Replay) layout() replayLayout {
	var l replayLayout
	l.banners = m.bannerLines()
	l.paneH = max(m.height-len(l.banners)-1, 3)
	// At 80 columns the right pane keeps 46: eight groups of a fingerprint
	// on one line. Wider, the script grows too, up to 56.
	switch {
	case m.width <= 100:
		l.leftW = min(max(m.width*42/100, 12), 34)
	default:
		l.leftW = min(max(m.width*30/100, 34), 56)
	}
	l.rightW = m.width - l.leftW
	l.detailW, l.detailH = l.rightW-3, l.paneH-2 // the border, and a space on the left
	return l
}

// detailLines are the selected item's lines for the pane's width.
func (m *Replay) detailLines(width int) []string {
	if m.detailFor != m.sel || m.detailWidth != width {
		m.detail = replayDetail(m.res, m.items, m.sel, width, m.paint)
		m.detailFor, m.detailWidth = m.sel, width
	}
	return m.detail
}

func (m *Replay) clampScroll() {
	l := m.layout()
	n := len(m.detailLines(l.detailW))
	m.scroll = min(max(m.scroll, 0), max(n-l.detailH, 0))
}

// Render is the whole screen as a string: what View shows.
func (m *Replay) Render() string {
	l := m.layout()
	var b strings.Builder
	for _, s := range l.banners {
		b.WriteString(s + "\n")
	}
	left := m.scriptBox(l.leftW, l.paneH)
	right := m.detailBox(l)
	for i := range l.paneH {
		b.WriteString(left[i] + right[i] + "\n")
	}
	b.WriteString(m.helpLine())
	return b.String()
}

// bannerLines: the title, the verdict, the training mark.
func (m *Replay) bannerLines() []string {
	title := " ceremony replay · " + filepath.Base(m.res.Transcript)
	if c := m.res.Ceremony; c.Tool != "" {
		for _, part := range []string{fmt.Sprintf("%s ceremony %s", c.Kind, c.Started.UTC().Format("2006-01-02")), "operator " + c.Operator} {
			if part == "operator " || ansi.StringWidth(title+" · "+part+" · read-only ") > m.width {
				continue
			}
			title += " · " + part
		}
	}
	title += " · read-only "
	out := []string{m.paint(rpRoleTitleBar, rpFitWidth(title, m.width))}
	// A banner wraps to two lines rather than lose what it says.
	for _, bn := range replayBanners(m.res, m.caPath) {
		lines := strings.Split(ansi.Wrap(bn.text, m.width-2, " "), "\n")
		if len(lines) > 2 {
			lines = []string{lines[0], ansi.Truncate(strings.Join(lines[1:], " "), m.width-2, "…")}
		}
		for _, l := range lines {
			out = append(out, m.paint(bn.role, rpFitWidth(" "+l, m.width)))
		}
	}
	return out
}

// rpFitWidth cuts s to width, or pads it to width.
func rpFitWidth(s string, width int) string {
	s = ansi.Truncate(s, width, "…")
	return s + strings.Repeat(" ", max(width-ansi.StringWidth(s), 0))
}

// scriptBox is the left pane: every item, the selected one marked with ▶
// (and highlighted), scrolled to keep it in view.
func (m *Replay) scriptBox(w, h int) []string {
	inner := h - 2
	top := 0
	if m.sel >= inner {
		top = m.sel - inner + 1
	}
	rows := make([]string, 0, inner)
	for i := top; i < len(m.items) && len(rows) < inner; i++ {
		it := m.items[i]
		mark := "  "
		if i == m.sel {
			mark = "▶ "
		}
		word := it.state.word + strings.Repeat(" ", max(replayWordWidth-ansi.StringWidth(it.state.word), 0))
		row := rpFitWidth(mark+it.state.glyph+" "+word+" "+it.title, w-2)
		if i == m.sel {
			row = m.paint(rpRoleSelected, row)
		} else {
			row = m.paint(rpToneRole(it.state.tone), row)
		}
		rows = append(rows, row)
	}
	more := ""
	if len(m.items) > inner {
		more = fmt.Sprintf(" %d/%d ", m.sel+1, len(m.items))
	}
	return m.box(" Script ", more, rows, w, h)
}

// detailBox is the right pane, scrolled; its bottom border says when there
// is more below or above.
func (m *Replay) detailBox(l replayLayout) []string {
	lines := m.detailLines(l.detailW)
	m.scroll = min(max(m.scroll, 0), max(len(lines)-l.detailH, 0))
	end := min(m.scroll+l.detailH, len(lines))
	rows := make([]string, 0, l.detailH)
	for _, s := range lines[m.scroll:end] {
		rows = append(rows, " "+rpFitWidth(s, l.detailW))
	}
	var more []string
	if m.scroll > 0 {
		more = append(more, "↑ pgup")
	}
	if end < len(lines) {
		more = append(more, fmt.Sprintf("↓ %d more lines: pgdn", len(lines)-end))
	}
	foot := ""
	if len(more) > 0 {
		foot = " " + strings.Join(more, " · ") + " "
	}
	title := fmt.Sprintf(" %d/%d ", m.sel+1, len(m.items))
	return m.box(title, foot, rows, l.rightW, l.paneH)
}

// box frames rows in a rounded border w wide and h high, with a title in
// the top edge and a note in the bottom one.
func (m *Replay) box(title, foot string, rows []string, w, h int) []string {
	inner := w - 2
	title = ansi.Truncate(title, max(inner-2, 0), "…")
	foot = ansi.Truncate(foot, max(inner-2, 0), "…")
	edge := func(l, r, text string) string {
		fill := max(inner-1-ansi.StringWidth(text), 0)
		return m.paint(rpRoleBorder, l+"─") + m.paint(rpRoleLabel, text) + m.paint(rpRoleBorder, strings.Repeat("─", fill)+r)
	}
	out := []string{edge("╭", "╮", title)}
	side := m.paint(rpRoleBorder, "│")
	for i := range h - 2 {
		row := ""
		if i < len(rows) {
			row = rows[i]
		}
		out = append(out, side+rpFitWidth(row, inner)+side)
	}
	return append(out, edge("╰", "╯", foot))
}

// helpLine names the keys.
func (m *Replay) helpLine() string {
	keys := "←/→ or n/p step · ↑/↓ · home/end · pgup/pgdn scroll · q quit"
	if m.width < ansi.StringWidth(keys)+2 {
		keys = "n/p step · pgup/pgdn scroll · q quit"
	}
	return m.paint(rpRoleDim, rpFitWidth(" "+keys, m.width))
}

// The replay's styles. Colour only ever repeats what a glyph and a word
// say (the selection has its ▶); under NO_COLOR the renderer drops the
// colours, and bold and the words stay.
var (
	rpStyleTitleBar  = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("231")).Background(lipgloss.Color("238"))
	rpStyleTitle     = lipgloss.NewStyle().Bold(true)
	rpStyleHeading   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("147"))
	rpStyleLabel     = lipgloss.NewStyle().Bold(true)
	rpStyleDim       = lipgloss.NewStyle().Foreground(lipgloss.Color("245"))
	rpStyleMono      = lipgloss.NewStyle().Foreground(lipgloss.Color("117"))
	rpStyleGood      = lipgloss.NewStyle().Foreground(lipgloss.Color("42"))
	rpStyleWarn      = lipgloss.NewStyle().Foreground(lipgloss.Color("214"))
	rpStyleBad       = lipgloss.NewStyle().Foreground(lipgloss.Color("203")).Bold(true)
	rpStyleSelected  = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("231")).Background(lipgloss.Color("25"))
	rpStyleBanner    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("0")).Background(lipgloss.Color("214"))
	rpStyleBannerBad = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("160"))
	rpStyleBorder    = lipgloss.NewStyle().Foreground(lipgloss.Color("240"))
)

var rpStyles = map[replayRole]lipgloss.Style{
	rpRoleTitle: rpStyleTitle, rpRoleHeading: rpStyleHeading, rpRoleLabel: rpStyleLabel, rpRoleDim: rpStyleDim,
	rpRoleMono: rpStyleMono, rpRoleGood: rpStyleGood, rpRoleWarn: rpStyleWarn, rpRoleBad: rpStyleBad,
	rpRoleSelected: rpStyleSelected, rpRoleBanner: rpStyleBanner, rpRoleBannerBad: rpStyleBannerBad,
	rpRoleBorder: rpStyleBorder, rpRoleTitleBar: rpStyleTitleBar,
}

func replayStylePaint(role replayRole, s string) string {
	st, ok := rpStyles[role]
	if !ok || s == "" {
		return s
	}
	return st.Render(s)
}

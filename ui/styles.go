package ui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles are the wizard's looks. Colours are the terminal's own sixteen
// (ANSI 1–8), so they follow its light or dark theme, and the renderer drops
// them under NO_COLOR: every state also has a word and a glyph.
type Styles struct {
	Title   lipgloss.Style // pane titles, the end screen's headline
	Header  lipgloss.Style // the top line
	Border  lipgloss.Style // pane frames
	Focus   lipgloss.Style // the frame of the pane that wants the operator
	Label   lipgloss.Style // "Makes", "Inputs": the left column of the detail
	Muted   lipgloss.Style // secondary text
	Code    lipgloss.Style // seed commands, names
	OK      lipgloss.Style
	Warn    lipgloss.Style
	Bad     lipgloss.Style
	Prompt  lipgloss.Style // the question the operator answers
	Key     lipgloss.Style // a key in a sentence ("type yes")
	Select  lipgloss.Style // the script row being shown on the right
	HelpKey lipgloss.Style
	HelpDsc lipgloss.Style
	States  map[status]lipgloss.Style
}

// NewStyles builds the wizard's styles.
func NewStyles() Styles {
	var (
		red, green, yellow, blue = lipgloss.Color("1"), lipgloss.Color("2"), lipgloss.Color("3"), lipgloss.Color("4")
		magenta, cyan, grey      = lipgloss.Color("5"), lipgloss.Color("6"), lipgloss.Color("8")
	)
	fg := func(c color.Color) lipgloss.Style { return lipgloss.NewStyle().Foreground(c) }
	return Styles{
		Title:   lipgloss.NewStyle().Bold(true),
		Header:  lipgloss.NewStyle().Bold(true),
		Border:  fg(grey),
		Focus:   fg(yellow),
		Label:   fg(cyan),
		Muted:   fg(grey),
		Code:    fg(magenta),
		OK:      fg(green).Bold(true),
		Warn:    fg(yellow).Bold(true),
		Bad:     fg(red).Bold(true),
		Prompt:  lipgloss.NewStyle().Bold(true),
		Key:     fg(yellow).Bold(true),
		Select:  lipgloss.NewStyle().Reverse(true),
		HelpKey: fg(cyan),
		HelpDsc: fg(grey),
		States: map[status]lipgloss.Style{
			stPending:  fg(grey),
			stRunning:  fg(blue).Bold(true),
			stWaiting:  fg(yellow).Bold(true),
			stDone:     fg(green),
			stFailed:   fg(red).Bold(true),
			stRestored: fg(green),
			stSkipped:  fg(yellow),
		},
	}
}

package ui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// formLive wraps a huh field so that its rule runs as the operator types:
// huh validates on Enter and blur only, and clears the error on each key.
// After every message the wrapper re-runs the field's rule on the bound
// value and shows the problem under the field, word for word as
// config.Load would report it.
type formLive struct {
	huh.Field
	check   func() error  // the field's rule over the draft
	value   func() string // the bound value: an untouched empty field shows no error yet
	source  *huh.Input    // a secret source: masked while it looks like a secret
	touched bool          // the operator typed in it, or tried to leave it
	err     error
	width   int
	style   lipgloss.Style
}

func (l *formLive) Update(msg tea.Msg) (huh.Model, tea.Cmd) {
	m, cmd := l.Field.Update(msg)
	l.Field = m.(huh.Field)
	switch msg.(type) {
	case tea.KeyPressMsg, tea.PasteMsg:
		l.touched = true
	}
	l.refresh()
	return l, cmd
}

// refresh re-runs the rule and, for a secret source, masks a value that is
// not on its way to be a source: a PIN typed by mistake never shows.
func (l *formLive) refresh() {
	l.err = l.check()
	if l.source != nil {
		if looksLikeSource(l.value()) {
			l.source.EchoMode(huh.EchoModeNormal)
		} else {
			l.source.EchoMode(huh.EchoModePassword)
		}
	}
}

func (l *formLive) WithWidth(w int) huh.Field {
	l.width = w
	l.Field.WithWidth(w)
	return l
}

// shown is the problem the field shows now, if any.
func (l *formLive) shown() error {
	if l.err == nil || !l.touched && l.value() == "" {
		return nil
	}
	return l.err
}

func (l *formLive) View() string {
	v := l.Field.View()
	err := l.shown()
	if err == nil {
		return v
	}
	return v + "\n" + formErrorLines(l.style, err, l.width)
}

// formErrorLines renders a field's problems under it: each line of the
// error after a ✗ (a glyph, so that NO_COLOR loses nothing), wrapped to
// width, at most three, then how many more.
func formErrorLines(st lipgloss.Style, err error, width int) string {
	lines := strings.Split(err.Error(), "\n")
	more := 0
	if len(lines) > 3 {
		more, lines = len(lines)-3, lines[:3]
	}
	w := max(20, width-4)
	var out []string
	for _, l := range lines {
		for i, part := range strings.Split(ansi.Wrap(l, w, ""), "\n") {
			lead := "  ✗ "
			if i > 0 {
				lead = "    "
			}
			out = append(out, st.Render(lead+part))
		}
	}
	if more > 0 {
		out = append(out, st.Render(fmt.Sprintf("    … and %d more", more)))
	}
	return strings.Join(out, "\n")
}

// formField is one field of a page: the huh field the form shows (live in
// the terminal, bare in accessible mode) and what the page needs to know of
// it.
type formField struct {
	huh.Field
	live     *formLive
	desc     string  // what the field wants, printed before the prompt in accessible mode
	ptr      *string // the bound text, for accessible mode's "keep" and "-"
	optional bool    // "-" empties it in accessible mode
}

// formFieldMaker builds a page's fields over the draft, for the terminal
// (live) or accessible mode.
type formFieldMaker struct {
	plain bool
	style lipgloss.Style // the error under a field
}

// validator adapts a rule over the draft to huh's Validate: it checks the
// candidate as if it were in the draft. In accessible mode an empty answer
// keeps the shown value, and "-" empties an optional one.
func (fm formFieldMaker) validator(ptr *string, optional bool, check func() error) func(string) error {
	return func(s string) error {
		if fm.plain {
			switch {
			case s == "":
				s = *ptr
			case s == "-" && optional:
				s = ""
			}
		}
		old := *ptr
		*ptr = s
		err := check()
		*ptr = old
		return err
	}
}

func (fm formFieldMaker) wrap(f huh.Field, ptr *string, optional bool, check func() error, desc string) *formField {
	ff := &formField{Field: f, ptr: ptr, optional: optional, desc: desc}
	if check == nil {
		check = func() error { return nil }
	}
	if fm.plain {
		return ff
	}
	value := func() string { return "x" }
	if ptr != nil {
		value = func() string { return *ptr }
	}
	ff.live = &formLive{Field: f, check: check, value: value, style: fm.style}
	ff.live.refresh()
	ff.Field = ff.live
	return ff
}

func orNoCheck(check func() error) func() error {
	if check == nil {
		return func() error { return nil }
	}
	return check
}

// input is a one-line text field bound to ptr, checked by check.
func (fm formFieldMaker) input(title, desc string, ptr *string, check func() error) *formField {
	check = orNoCheck(check)
	in := huh.NewInput().Title(title).Description(desc).Value(ptr)
	in.Validate(fm.validator(ptr, false, check))
	return fm.wrap(in, ptr, false, check, desc)
}

// optional is an input that may stay empty.
func (fm formFieldMaker) optional(title, desc string, ptr *string, check func() error) *formField {
	check = orNoCheck(check)
	if fm.plain {
		desc += " (- for none)"
	}
	in := huh.NewInput().Title(title).Description(desc).Value(ptr)
	in.Validate(fm.validator(ptr, true, check))
	return fm.wrap(in, ptr, true, check, desc)
}

// source is a secret source field: prompt, env:NAME or file:PATH.
func (fm formFieldMaker) source(title, desc string, ptr *string, check func() error) *formField {
	return fm.asSource(fm.input(title, desc, ptr, check))
}

// optionalSource is a secret source field that may stay empty.
func (fm formFieldMaker) optionalSource(title, desc string, ptr *string, check func() error) *formField {
	return fm.asSource(fm.optional(title, desc, ptr, check))
}

// asSource suggests the source forms and hides a secret typed by mistake.
func (fm formFieldMaker) asSource(ff *formField) *formField {
	in := ff.inner().(*huh.Input)
	in.Suggestions([]string{"prompt", "env:", "file:"})
	if ff.live != nil {
		ff.live.source = in
		ff.live.refresh()
	}
	return ff
}

// text is a multi-line field (enter adds a line, tab goes on).
func (fm formFieldMaker) text(title, desc string, ptr *string, check func() error) *formField {
	check = orNoCheck(check)
	t := huh.NewText().Title(title).Description(desc).Value(ptr).Lines(5).ExternalEditor(false)
	t.Validate(fm.validator(ptr, false, check))
	return fm.wrap(t, ptr, false, check, desc)
}

// choice is a select among values, shown with their labels, checked by
// check (nil: any value goes).
func (fm formFieldMaker) choice(title, desc string, ptr *string, labels, values []string, inline bool, check func() error) *formField {
	check = orNoCheck(check)
	opts := make([]huh.Option[string], len(values))
	for i, v := range values {
		opts[i] = huh.NewOption(labels[i], v)
	}
	s := huh.NewSelect[string]().Title(title).Description(desc).Options(opts...).Value(ptr)
	if inline {
		s.Inline(true)
	} else {
		s.Height(min(len(values), 5) + 1 + min(len(desc), 1))
	}
	s.Validate(func(v string) error {
		old := *ptr
		*ptr = v
		err := check()
		*ptr = old
		return err
	})
	return fm.wrap(s, nil, false, check, desc)
}

// confirm is a yes/no question; nothing irreversible hangs on one.
func (fm formFieldMaker) confirm(title, desc, yes, no string, ptr *bool) *formField {
	c := huh.NewConfirm().Title(title).Description(desc).Affirmative(yes).Negative(no).Value(ptr)
	return fm.wrap(c, nil, false, nil, desc)
}

// inner is the bare huh field.
func (f *formField) inline() *formField {
	if c, ok := f.inner().(*huh.Confirm); ok {
		c.Inline(true)
	}
	return f
}

func (f *formField) inner() huh.Field {
	if f.live != nil {
		return f.live.Field
	}
	return f.Field
}

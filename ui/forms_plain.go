package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"charm.land/huh/v2"
	"github.com/charmbracelet/colorprofile"
)

// The forms in accessible mode (--plain): no full-screen program, the same
// pages asked field by field on plain lines, each answer checked by the
// same rule before the next question, the written file printed whole, and
// the same typed yes.

// plainReader hands huh's line prompts one byte at a time: each prompt
// reads through a fresh bufio.Scanner, which would otherwise swallow the
// answers after its own. It remembers the end of the input.
type plainReader struct {
	r   io.Reader
	eof bool
}

func (p *plainReader) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := p.r.Read(b[:1])
	if errors.Is(err, io.EOF) {
		p.eof = true
	}
	return n, err
}

// line reads one line (without its newline).
func (p *plainReader) line() (string, error) {
	var b strings.Builder
	var c [1]byte
	for {
		n, err := p.Read(c[:])
		if n == 1 {
			if c[0] == '\n' {
				return strings.TrimSuffix(b.String(), "\r"), nil
			}
			b.WriteByte(c[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
}

var errPlainEOF = errors.New("the input ended before the config was complete: nothing was written")

func runPlainForms(ctx context.Context, opts FormsOptions) (string, error) {
	in := &plainReader{r: opts.In}
	w := colorprofile.NewWriter(opts.Out, os.Environ())
	m := NewForms(ctx, opts)
	fm := formFieldMaker{plain: true}
	say := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }

	say("Ceremony config. Each answer is checked as config.Load checks it; press Enter alone to keep the value shown.\n")
	id := m.pages()[0].id
	for {
		pages := m.pages()
		i := pageIndex(pages, id)
		if i < 0 {
			break
		}
		p := pages[i]
		if p.id == "token" && m.opts.Tokens != nil && (!m.tokensListed || m.listedFor != m.d.module) {
			m.tokens, m.tokensErr = m.opts.Tokens(ctx, m.d.module)
			m.tokensListed, m.listedFor = true, m.d.module
		}
		m.page = p.id
		say("\nPage %d of %d: %s\n%s\n\n", i+1, len(pages), p.title, p.intro)
		for _, f := range p.build(fm) {
			f.WithTheme(huh.ThemeFunc(huh.ThemeBase))
			f.Init()
			f.Focus()
			if f.desc != "" {
				say("%s\n", f.desc)
			}
			if f.ptr != nil && *f.ptr != "" {
				say("(now: %s)\n", *f.ptr)
			}
			if err := f.RunAccessible(w, in); err != nil {
				return "", err
			}
			if in.eof {
				return "", errPlainEOF
			}
			if f.ptr != nil && f.optional && *f.ptr == "-" {
				*f.ptr = ""
			}
			say("\n")
		}
		m.leave(p)
		pages = m.pages()
		i = pageIndex(pages, p.id)
		if i+1 < len(pages) {
			id = pages[i+1].id
			continue
		}
		msg := writeDraft(m.d)
		if len(msg.problems) > 0 || msg.err != nil {
			m.onWritten(msg)
			say("The config is not ready; nothing was written:\n")
			for _, pr := range m.problems {
				say("  - %s\n", pr)
			}
			id = m.backTo
			continue
		}
		return plainReview(w, in, msg)
	}
	return "", errPlainEOF
}

// plainReview prints the written file whole and asks for the typed yes.
func plainReview(w io.Writer, in *plainReader, msg formsWrittenMsg) (string, error) {
	fmt.Fprintf(w, "The config is written to %s. Read it through with the witnesses:\n\n", msg.path)
	fmt.Fprintf(w, "--- %s ---\n%s--- end of %s ---\n\n", msg.path, msg.raw, msg.path)
	fmt.Fprint(w, "Type yes to run this ceremony (anything else stops here and keeps the file): ")
	answer, err := in.line()
	fmt.Fprintln(w)
	if strings.TrimSpace(answer) == "yes" {
		return msg.path, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return msg.path, err
	}
	return msg.path, ErrFormsStopped
}

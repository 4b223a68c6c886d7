// Package secret reads PINs and passphrases from where an operator keeps them:
// an environment variable, a file, or a masked prompt. A secret never travels
// on a command line, and no error here ever includes one.
package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Source is where a secret comes from: "env:NAME", "file:PATH" or "prompt".
type Source struct {
	kind string // "env", "file" or "prompt"
	arg  string
}

// Parse reads a source spelling. An empty string means prompt.
func Parse(s string) (Source, error) {
	if s == "" || s == "prompt" {
		return Source{kind: "prompt"}, nil
	}
	kind, arg, ok := strings.Cut(s, ":")
	if !ok || arg == "" {
		return Source{}, fmt.Errorf("secret source: use env:NAME, file:PATH or prompt (a literal secret is not accepted)")
	}
	switch kind {
	case "env", "file":
		return Source{kind: kind, arg: arg}, nil
	}
	// Nothing of the spelling is echoed: "hunter:2" may be a pasted secret.
	return Source{}, fmt.Errorf("secret source: unknown kind; use env:NAME, file:PATH or prompt")
}

// String is the source's spelling; it never holds the secret itself.
func (s Source) String() string {
	if s.kind == "prompt" {
		return "prompt"
	}
	return s.kind + ":" + s.arg
}

// Under resolves a relative file: path against dir: a config means the same
// file wherever the operator runs it from.
func (s Source) Under(dir string) Source {
	if s.kind == "file" && !filepath.IsAbs(s.arg) {
		s.arg = filepath.Join(dir, s.arg)
	}
	return s
}

// IsPrompt reports whether reading the secret needs an operator at a terminal.
func (s Source) IsPrompt() bool { return s.kind == "prompt" }

// Check verifies that the source can deliver, so that a preflight lists
// every problem before anything happens: the variable is set, not empty and
// without surrounding whitespace; a regular file is readable and holds such
// a value (it is read and wiped: reading a file costs nothing, a wrong PIN
// costs a token try); a FIFO or device only exists (reading would consume
// it); a prompt has someone to ask (p is not nil).
func (s Source) Check(p Prompter) error {
	switch s.kind {
	case "env":
		_, err := s.Read(context.Background(), "", nil)
		return unprefixed(err)
	case "file":
		st, err := os.Stat(s.arg)
		switch {
		case err != nil:
			return fmt.Errorf("secret file: %w", err)
		case st.IsDir():
			return fmt.Errorf("secret file %s is a directory", s.arg)
		case !st.Mode().IsRegular():
			return nil
		}
		v, err := s.Read(context.Background(), "", nil)
		clear(v)
		return unprefixed(err)
	}
	if p == nil {
		return fmt.Errorf("%w; give it as env:NAME or file:PATH", ErrNoTerminal)
	}
	return nil
}

// MinPassphrase is the notary CLI's shortest passphrase for a key file it
// makes (it says "Passphrase is too short"); the ceremony's notary key
// files must open with that CLI later.
const MinPassphrase = 8

// CheckPassphrase applies the notary CLI's minimum to a passphrase that
// protects a new notary key file. It never shows the passphrase.
func CheckPassphrase(p []byte) error {
	if len(p) < MinPassphrase {
		return fmt.Errorf("the passphrase is %d characters; notary requires at least %d: choose a longer one", len(p), MinPassphrase)
	}
	return nil
}

// CheckPassphrase is Check for a passphrase source: what Check reads (an
// environment variable, a regular file) must also pass CheckPassphrase.
func (s Source) CheckPassphrase(p Prompter) error {
	if err := s.Check(p); err != nil {
		return err
	}
	if s.kind == "file" {
		if st, err := os.Stat(s.arg); err != nil || !st.Mode().IsRegular() {
			return nil // a FIFO is checked when it is read
		}
	}
	if s.kind == "prompt" {
		return nil
	}
	v, err := s.Read(context.Background(), "", nil)
	defer clear(v)
	if err != nil {
		return unprefixed(err)
	}
	return CheckPassphrase(v)
}

// ReadPassphrase is Read for a passphrase that will protect a new notary
// key file: it must pass CheckPassphrase. An env: or file: source holding a
// short one is refused (preflight names it before the run). A typed one is
// asked twice, as the notary CLI does, since a typo would lock the key file
// for good; one too short, or two entries that differ, is asked for again
// at the prompt, saying why in one line, instead of failing the step.
func (s Source) ReadPassphrase(ctx context.Context, what string, p Prompter) ([]byte, error) {
	var why error
	for {
		v, err := s.read(ctx, what, p, why)
		if err != nil {
			return nil, err
		}
		if why = CheckPassphrase(v); why == nil && !s.IsPrompt() {
			return v, nil
		}
		if why == nil {
			if why, err = s.confirm(ctx, what, p, v); err != nil {
				return nil, err
			}
			if why == nil {
				return v, nil
			}
		}
		clear(v)
		if !s.IsPrompt() {
			return nil, fmt.Errorf("%s: %w", what, why)
		}
	}
}

// errDiffer is why a typed passphrase is asked for again after its second entry.
var errDiffer = errors.New("the two entries differ: type the same passphrase twice")

// confirm asks for v a second time. why is errDiffer when the entries differ;
// err is a prompt that failed, and v is then cleared.
func (s Source) confirm(ctx context.Context, what string, p Prompter, v []byte) (why, err error) {
	again, err := s.read(ctx, what+" (again)", p, nil)
	if err != nil {
		clear(v)
		return nil, err
	}
	defer clear(again)
	if !bytes.Equal(v, again) {
		return errDiffer, nil
	}
	return nil, nil
}

// unprefixed drops Read's ": " lead when it was given no name.
func unprefixed(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(strings.TrimPrefix(err.Error(), ": "))
}

// Prompter asks an operator for a secret without echoing it.
type Prompter interface {
	Secret(ctx context.Context, prompt string) ([]byte, error)
}

// Retrier is a Prompter that asks again after a refused entry with the
// reason on a line of its own (Terminal does). Any other Prompter is asked
// with the reason in the prompt: "what (why)".
type Retrier interface {
	Retry(ctx context.Context, why, prompt string) ([]byte, error)
}

// ErrNoTerminal is returned when a prompt is needed and none can be shown.
var ErrNoTerminal = errors.New("no terminal to prompt on")

// Read returns the secret. what names it in prompts and errors ("PIN for token
// \"ceremony\""). A file's single trailing newline is dropped, as `echo` adds one.
func (s Source) Read(ctx context.Context, what string, p Prompter) ([]byte, error) {
	return s.read(ctx, what, p, nil)
}

// read is Read; at a prompt, why is the reason the last entry was refused.
func (s Source) read(ctx context.Context, what string, p Prompter, why error) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	switch s.kind {
	case "env":
		v, ok := os.LookupEnv(s.arg)
		if !ok {
			return nil, fmt.Errorf("%s: environment variable %s is not set", what, s.arg)
		}
		if v == "" {
			return nil, fmt.Errorf("%s: environment variable %s is empty", what, s.arg)
		}
		if strings.TrimSpace(v) != v {
			return nil, fmt.Errorf("%s: environment variable %s has leading or trailing whitespace; remove it (it would be taken as part of the secret)", what, s.arg)
		}
		return []byte(v), nil
	case "file":
		b, err := readFile(ctx, s.arg)
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read secret file: %w", what, err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) == 0 {
			return nil, fmt.Errorf("%s: secret file %s is empty", what, s.arg)
		}
		if len(bytes.TrimSpace(b)) != len(b) {
			return nil, fmt.Errorf("%s: secret file %s has leading or trailing whitespace or blank lines; remove them (they would be taken as part of the secret)", what, s.arg)
		}
		return b, nil
	}
	if p == nil {
		return nil, fmt.Errorf("%s: %w; give it as env:NAME or file:PATH", what, ErrNoTerminal)
	}
	v, err := ask(ctx, p, what, why)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("%s: nothing was entered", what)
	}
	return v, nil
}

// ask prompts for what, after a refused entry saying why.
func ask(ctx context.Context, p Prompter, what string, why error) ([]byte, error) {
	if why == nil {
		return p.Secret(ctx, what)
	}
	if r, ok := p.(Retrier); ok {
		return r.Retry(ctx, why.Error(), what)
	}
	return p.Secret(ctx, fmt.Sprintf("%s (%v)", what, why))
}

// Reader is Read bound to what and p, in the shape hsm.Connect takes: the
// PIN is read only when the token has been found.
func (s Source) Reader(what string, p Prompter) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) { return s.Read(ctx, what, p) }
}

// PINPrompt names a token's PIN in prompts and errors.
func PINPrompt(token string) string { return fmt.Sprintf("PIN for token %q", token) }

// Terminal prompts on the controlling terminal (/dev/tty), so that a secret
// is typed even when stdin and stdout are redirected, and never echoed.
type Terminal struct{}

// Retry prints why the last entry was refused on its own line, then
// prompts again.
func (t Terminal) Retry(ctx context.Context, why, prompt string) ([]byte, error) {
	return t.Secret(ctx, why+"\n"+prompt)
}

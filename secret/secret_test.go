package secret

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type fakePrompt struct {
	val []byte
	err error
	got string
}

func (f *fakePrompt) Secret(_ context.Context, prompt string) ([]byte, error) {
	f.got = prompt
	return f.val, f.err
}

func TestSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("CEREMONY_SECRET_SET", "s3cret")
	t.Setenv("CEREMONY_SECRET_EMPTY", "")
	tests := []struct {
		name, src string
		prompt    *fakePrompt
		want      string
		wantErr   string
	}{
		{name: "env", src: "env:CEREMONY_SECRET_SET", want: "s3cret"},
		{name: "env unset", src: "env:CEREMONY_SECRET_UNSET", wantErr: "environment variable CEREMONY_SECRET_UNSET is not set"},
		{name: "env empty", src: "env:CEREMONY_SECRET_EMPTY", wantErr: "is empty"},
		{name: "file newline", src: "file:" + write("nl", "p4ss\n"), want: "p4ss"},
		{name: "file crlf", src: "file:" + write("crlf", "p4ss\r\n"), want: "p4ss"},
		{name: "file keeps inner spaces", src: "file:" + write("sp", "a b\n"), want: "a b"},
		{name: "file trailing space", src: "file:" + write("tsp", "1234 \n"), wantErr: "whitespace"},
		{name: "file blank line", src: "file:" + write("bl", "1234\n\n"), wantErr: "whitespace"},
		{name: "file leading space", src: "file:" + write("lsp", " 1234"), wantErr: "whitespace"},
		{name: "file empty", src: "file:" + write("empty", "\n"), wantErr: "is empty"},
		{name: "file missing", src: "file:" + filepath.Join(dir, "nope"), wantErr: "no such file"},
		{name: "prompt", src: "prompt", prompt: &fakePrompt{val: []byte("typed")}, want: "typed"},
		{name: "empty means prompt", src: "", prompt: &fakePrompt{val: []byte("typed")}, want: "typed"},
		{name: "prompt nothing typed", src: "prompt", prompt: &fakePrompt{}, wantErr: "nothing was entered"},
		{name: "prompt without terminal", src: "prompt", wantErr: "no terminal"},
		{name: "prompt fails", src: "prompt", prompt: &fakePrompt{err: errors.New("ctrl-c")}, wantErr: "ctrl-c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			var p Prompter
			if tc.prompt != nil {
				p = tc.prompt
			}
			got, err := s.Read(context.Background(), "PIN for token \"x\"", p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "PIN for token") {
					t.Fatalf("Read = %q, %v; want error %q naming what was read", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Read = %q, %v; want %q", got, err, tc.want)
			}
			if tc.prompt != nil && tc.prompt.got != "PIN for token \"x\"" {
				t.Fatalf("prompt text %q", tc.prompt.got)
			}
		})
	}
}

func TestParseRefusesLiterals(t *testing.T) {
	for _, in := range []string{"1234", "hunter2", "pin:1234", "env:", "file:"} {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) accepted", in)
		}
		for _, secretish := range []string{"1234", "hunter2"} {
			if strings.Contains(in, secretish) && strings.Contains(err.Error(), secretish) {
				t.Fatalf("Parse(%q) error echoes the value: %v", in, err)
			}
		}
	}
}

func TestUnder(t *testing.T) {
	for in, want := range map[string]string{
		"file:pin": "file:/cfg/pin", "file:sub/../pin": "file:/cfg/pin", "file:/abs/pin": "file:/abs/pin",
		"env:PIN": "env:PIN", "prompt": "prompt", "": "prompt",
	} {
		src, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := src.Under("/cfg").String(); got != want {
			t.Errorf("Parse(%q).Under(/cfg) = %q, want %q", in, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Setenv("CEREMONY_SECRET_SET", "x")
	t.Setenv("CEREMONY_SECRET_EMPTY", "")
	t.Setenv("CEREMONY_SECRET_SPACE", " x")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		src      string
		prompter Prompter
		want     string // "" when the source can deliver
	}{
		{"env:CEREMONY_SECRET_SET", nil, ""},
		{"env:CEREMONY_SECRET_UNSET", nil, "is not set"},
		{"env:CEREMONY_SECRET_EMPTY", nil, "is empty"},
		{"env:CEREMONY_SECRET_SPACE", nil, "whitespace"},
		{"file:/nonexistent/pin", nil, "no such file"},
		{"file:" + dir, nil, "is a directory"},
		{"file:" + write("good", "s3cret\n"), nil, ""},
		{"file:" + write("empty", ""), nil, "is empty"},
		{"file:" + write("spaced", "s3cret \n"), nil, "whitespace"},
		{"file:" + fifo, nil, ""}, // never read: that would consume it
		{"prompt", nil, "no terminal"},
		{"prompt", fakePrompter{}, ""},
	} {
		s, err := Parse(c.src)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Check(c.prompter)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Check(%s) = %v, want %q", c.src, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Check(%s) leaked the secret: %v", c.src, err)
		}
	}
}

type fakePrompter struct{}

func (fakePrompter) Secret(context.Context, string) ([]byte, error) { return []byte("x"), nil }

// TestFIFO reads a file: source that is a FIFO: what a writer sends is the
// secret, and a cancelled context ends a wait for a writer that never
// comes (before, the read blocked until a write or kill -9).
func TestFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := func(name string) Source {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		return Source{kind: "file", arg: p}
	}
	write := func(src Source, body string) {
		go func() {
			f, err := os.OpenFile(src.arg, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			f.WriteString(body)
			f.Close()
		}()
	}
	for _, c := range []struct {
		name, body, want, wantErr string
	}{
		{name: "written", body: "s3cret\n", want: "s3cret"},
		{name: "long", body: strings.Repeat("x", 3000), want: strings.Repeat("x", 3000)},
		{name: "closed empty", body: "", wantErr: "is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := fifo(c.name)
			write(src, c.body)
			got, err := src.Read(context.Background(), "PIN", nil)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Read = %q, %v; want %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("Read = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	t.Run("cancelled without a writer", func(t *testing.T) {
		src := fifo("nobody")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := src.Read(ctx, "PIN", nil)
			done <- err
		}()
		time.Sleep(200 * time.Millisecond) // most likely waiting by now; either way it must end
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "PIN: ") {
				t.Fatalf("Read = %v, want context.Canceled naming the PIN", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Read still waits for a writer after its context ended")
		}
	})
}

// TestCheckPassphrase: a passphrase for a new notary key file has the notary
// CLI's minimum length, checked before the run for what can be read without
// cost, and the error never shows it.
func TestCheckPassphrase(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	t.Setenv("CEREMONY_SHORT", "short7!")
	t.Setenv("CEREMONY_LONG", "long-enough")
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ src, want string }{
		{"env:CEREMONY_SHORT", "the passphrase is 7 characters; notary requires at least 8: choose a longer one"},
		{"env:CEREMONY_LONG", ""},
		{"file:" + write("short", "1234567\n"), "the passphrase is 7 characters"},
		{"file:" + write("eight", "12345678\n"), ""},
		{"file:" + fifo, ""}, // read when the step runs, and checked then
		{"env:CEREMONY_UNSET_PASS", "is not set"},
		{"prompt", ""},
	} {
		s, err := Parse(c.src)
		if err != nil {
			t.Fatal(err)
		}
		err = s.CheckPassphrase(fakePrompter{})
		if (c.want == "") != (err == nil) || err != nil && !strings.HasPrefix(err.Error(), c.want) && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckPassphrase(%s) = %v, want %q", c.src, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "short7!") || strings.Contains(err.Error(), "1234567")) {
			t.Errorf("the error shows the passphrase: %v", err)
		}
	}
}

// entries is a Prompter that answers with each entry in turn and records
// what it was asked; as a Retrier it records why too.
type entries struct {
	vals  []string
	asked []string
}

func (e *entries) Secret(_ context.Context, prompt string) ([]byte, error) {
	e.asked = append(e.asked, prompt)
	if len(e.vals) == 0 {
		return nil, errors.New("no more entries")
	}
	v := e.vals[0]
	e.vals = e.vals[1:]
	return []byte(v), nil
}

type retrier struct{ entries }

func (r *retrier) Retry(ctx context.Context, why, prompt string) ([]byte, error) {
	return r.Secret(ctx, why+" | "+prompt)
}

// TestReadPassphrase: a passphrase typed too short, or twice differently, is asked for again at
// the prompt, saying why, instead of failing the step; one from env: or
// file: is refused, as preflight refused it.
func TestReadPassphrase(t *testing.T) {
	t.Setenv("CEREMONY_SHORT", "short7!")
	t.Setenv("CEREMONY_LONG", "long-enough")
	const again, differ = "passphrase for the notary targets key (again)", "the two entries differ: type the same passphrase twice"
	const what, why5 = "passphrase for the notary targets key", "the passphrase is 5 characters; notary requires at least 8: choose a longer one"
	for _, tc := range []struct {
		name, src string
		entries   []string
		retrier   bool
		want      string   // the passphrase read, or
		wantErr   string   // the refusal
		asked     []string // the prompts, in order
	}{
		{"long enough at once", "prompt", []string{"long-enough", "long-enough"}, false, "long-enough", "", []string{what, again}},
		{"short, then long enough", "prompt", []string{"short", "long-enough", "long-enough"}, false, "long-enough", "", []string{what, what + " (" + why5 + ")", again}},
		{"twice short", "prompt", []string{"short", "1", "12345678", "12345678"}, false, "12345678", "", []string{what, what + " (" + why5 + ")",
			what + " (the passphrase is 1 characters; notary requires at least 8: choose a longer one)", again}},
		{"the reason on its own line", "prompt", []string{"short", "long-enough", "long-enough"}, true, "long-enough", "", []string{what, why5 + " | " + what, again}},
		{"short, then nothing", "prompt", []string{"short", ""}, false, "", what + ": nothing was entered", []string{what, what + " (" + why5 + ")"}},
		{"two entries differ, then the same", "prompt", []string{"long-enough", "long-enuogh", "long-enough", "long-enough"}, false, "long-enough", "",
			[]string{what, again, what + " (" + differ + ")", again}},
		{"differ, the reason on its own line", "prompt", []string{"long-enough", "long-enuogh", "long-enough", "long-enough"}, true, "long-enough", "",
			[]string{what, again, differ + " | " + what, again}},
		{"the second entry fails", "prompt", []string{"long-enough"}, false, "", "no more entries", []string{what, again}},
		{"long enough from the environment", "env:CEREMONY_LONG", nil, false, "long-enough", "", nil},
		{"short from the environment", "env:CEREMONY_SHORT", nil, false, "", what + ": the passphrase is 7 characters; notary requires at least 8: choose a longer one", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			e := &entries{vals: tc.entries}
			var p Prompter = e
			if tc.retrier {
				r := &retrier{entries: *e}
				p, e = r, &r.entries
			}
			v, err := src.ReadPassphrase(context.Background(), what, p)
			if tc.wantErr != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tc.wantErr) || v != nil {
					t.Fatalf("ReadPassphrase = %q, %v; want the error %q", v, err, tc.wantErr)
				}
			} else if err != nil || string(v) != tc.want {
				t.Fatalf("ReadPassphrase = %q, %v; want %q", v, err, tc.want)
			}
			if strings.Join(e.asked, "\n") != strings.Join(tc.asked, "\n") {
				t.Fatalf("asked %q\nwant %q", e.asked, tc.asked)
			}
		})
	}
}

//go:build linux

package secret

import (
	"context"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReadFDLine: the prompt's read keeps the line and its newline (which
// Terminal.Secret trims), and nothing after it.
func TestReadFDLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"1234\n", "1234\n"},
		{"1234\nnext", "1234\n"},
		{"\n", "\n"},
		{"no newline", "no newline"}, // the writer closed: end of file
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		fd := int(r.Fd())
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		w.WriteString(c.in)
		w.Close()
		got, err := readFD(context.Background(), fd, true)
		r.Close()
		if err != nil || string(got) != c.want {
			t.Errorf("readFD(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

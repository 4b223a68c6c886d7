//go:build !linux

package secret

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/term"
)

// readFile reads a file: source. Elsewhere than Linux a FIFO's wait is not
// cancellable.
func readFile(_ context.Context, path string) ([]byte, error) { return os.ReadFile(path) }

// Secret prompts and reads one line without echo.
func (Terminal) Secret(ctx context.Context, prompt string) ([]byte, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoTerminal, err)
	}
	defer tty.Close()
	if !term.IsTerminal(int(tty.Fd())) {
		return nil, ErrNoTerminal
	}
	fmt.Fprintf(tty, "%s: ", prompt)
	v, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, fmt.Errorf("read from terminal: %w", err)
	}
	return v, nil
}

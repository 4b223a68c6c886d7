//go:build linux

package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readFile reads a file: source. A FIFO (or a pipe as /dev/stdin) blocks
// until someone writes to it, so it is opened non-blocking and polled: a
// Ctrl-C or SIGTERM (ctx) ends the wait at once instead of after the next
// write or a kill -9.
func readFile(ctx context.Context, path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		// A regular file never blocks; os.File reads it as usual.
		f := os.NewFile(uintptr(fd), path)
		defer f.Close()
		return io.ReadAll(f)
	}
	defer unix.Close(fd)
	b, err := readFD(ctx, fd, false)
	if err != nil && ctx.Err() == nil {
		err = &os.PathError{Op: "read", Path: path, Err: err}
	}
	return b, err
}

// pollEvery bounds how long a cancelled read waits to notice: poll(2) is
// also woken early by the signal itself (EINTR).
const pollEvery = 100 // milliseconds

// readFD reads the non-blocking fd until end of file, or through the first
// newline when line is set, and returns early with ctx's error.
func readFD(ctx context.Context, fd int, line bool) ([]byte, error) {
	var out []byte
	buf := make([]byte, 512)
	defer clear(buf)
	fail := func(err error) ([]byte, error) {
		clear(out)
		return nil, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, pollEvery)
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return fail(err)
		}
		m, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fail(err)
		case m == 0:
			// End of file: the writer closed (POLLHUP), or Ctrl-D at a
			// prompt. A FIFO no writer has opened yet reads 0 too, but
			// poll does not report it ready, so this is not reached then.
			if line || len(out) > 0 || fds[0].Revents&unix.POLLHUP != 0 {
				return out, nil
			}
			continue
		}
		out = append(out, buf[:m]...)
		if i := bytes.IndexByte(out, '\n'); line && i >= 0 {
			clear(out[i+1:])
			return out[:i+1], nil
		}
	}
}

// Secret prompts on /dev/tty and reads one line with echo off. Signals stay
// on (Ctrl-C is SIGINT, which cancels ctx); the read polls, so it ends when
// ctx does, and the terminal is put back as it was on every way out.
func (Terminal) Secret(ctx context.Context, prompt string) ([]byte, error) {
	fd, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoTerminal, err)
	}
	defer unix.Close(fd)
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, ErrNoTerminal
	}
	masked := *old
	masked.Lflag &^= unix.ECHO
	masked.Lflag |= unix.ICANON | unix.ISIG
	masked.Iflag |= unix.ICRNL
	unix.Write(fd, []byte(prompt+": "))
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &masked); err != nil {
		return nil, fmt.Errorf("read from terminal: turn echo off: %w", err)
	}
	v, err := readFD(ctx, fd, true)
	unix.IoctlSetTermios(fd, unix.TCSETS, old)
	unix.Write(fd, []byte("\n"))
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("read from terminal: %w", err)
	}
	v = bytes.TrimSuffix(v, []byte("\n"))
	return bytes.TrimSuffix(v, []byte("\r")), nil
}

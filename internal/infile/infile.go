// Package infile checks and reads the files an operator names as input (a
// config, a transcript, a key, a certificate): a regular file, reached
// through symlinks, of bounded size. A FIFO would block the open, a device
// such as /dev/zero would be read until memory runs out, and a directory
// gives a confusing error later.
package infile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Check: path names a regular file that opens for reading.
func Check(path string) error {
	f, err := open(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// Read reads a regular file of at most max bytes.
func Read(path string, max int64) ([]byte, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %d bytes; is it the right file?", path, max)
	}
	return b, nil
}

func open(path string) (*os.File, error) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, fmt.Errorf("%s is a directory; give a file", path)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is %s, not a regular file; give a file", path, kind(st.Mode()))
	}
	return os.Open(path)
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a file"
}

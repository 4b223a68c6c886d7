package config

import (
	"fmt"
	"io"
	"os"
)

// maxFile bounds what the config reads of a file it names (and of itself):
// configs, PEM keys and certificates are a few KiB, and a path such as
// /dev/zero must not hang or fill memory.
const maxFile = 1 << 20

// checkFile: path names a regular file (a symlink is followed) that can be
// opened for reading.
func checkFile(path string) error {
	f, err := openFile(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// readFile reads a regular file of at most maxFile bytes.
func readFile(path string) ([]byte, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("%s is over %d bytes: not a config, key or certificate", path, maxFile)
	}
	return b, nil
}

// openFile refuses a directory, FIFO or device before opening it: opening a
// FIFO blocks, and reading a device may never end.
func openFile(path string) (*os.File, error) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, fmt.Errorf("%s is a directory; give a file", path)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file (%s); give a file", path, st.Mode().Type())
	}
	return os.Open(path)
}

package config

import "github.com/ceremony-dev/ceremony/internal/infile"

// maxFile bounds what the config reads of a file it names (and of itself):
// configs, PEM keys and certificates are a few KiB.
const maxFile = 1 << 20

// checkFile: path names a regular file (a symlink is followed) that opens.
func checkFile(path string) error { return infile.Check(path) }

// readFile reads a regular file of at most maxFile bytes.
func readFile(path string) ([]byte, error) { return infile.Read(path, maxFile) }

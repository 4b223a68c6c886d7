package transcript

import (
	"fmt"
	"os"
)

// ReadPrefix reads the complete lines of a journal, without locking it and
// leaving a torn tail alone: a runner reads how far an interrupted ceremony
// got before it can sign, and Open, with the signer, repairs the tail.
func ReadPrefix(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	lines, _ := split(data)
	entries, err := check(lines)
	if err != nil {
		return nil, fmt.Errorf("transcript %s: %w: it was changed after it was written; restore it from a copy (or start a new ceremony in a new output directory)", path, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("transcript %s: line 1: %w in the header: the ceremony never started; remove the file to start over", path, ErrTornTail)
	}
	return entries, nil
}

package transcript

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ceremony-dev/ceremony/internal/newfile"
)

// Journal is an open transcript holding its exclusive lock. Its methods are
// safe for concurrent use.
type Journal struct {
	path   string
	signer Signer

	mu      sync.Mutex
	f       *os.File // nil once closed
	entries []Entry
	prev    string // digest of the last line
	size    int64  // bytes of complete lines in the file
	broken  error  // set when a write or fsync failed: the file state is unknown
}

// Create starts a new journal at path with header as seq 0 (Kind may be
// left empty). It never touches an existing file, and leaves no file behind
// when it fails: the ceremony either has a durable header or never started.
func Create(ctx context.Context, path string, header Entry, signer Signer) (*Journal, error) {
	switch header.Kind {
	case "":
		header.Kind = KindHeader
	case KindHeader:
	default:
		return nil, fmt.Errorf("transcript %s: header kind %q, want %q", path, header.Kind, KindHeader)
	}
	// The header is written to a temporary file and linked into place, so
	// the journal's name never points at a file without a durable header:
	// a crash leaves no journal (the ceremony never started) or a valid one.
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("transcript: %s: %w", path, fs.ErrExist)
	}
	tmp, err := newfile.Create(path, 0o600)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	defer tmp.Remove()
	j := &Journal{path: path, signer: signer, f: tmp.File}
	fail := func(err error) (*Journal, error) {
		tmp.Close()
		return nil, err
	}
	if err := lock(tmp.File); err != nil {
		return fail(fmt.Errorf("transcript %s: %w", path, err))
	}
	if _, err := j.Append(ctx, header); err != nil {
		return fail(err)
	}
	// The lock and the file stay with the journal under its final name.
	if err := tmp.Link(); err != nil {
		return fail(fmt.Errorf("transcript: %w", err))
	}
	return j, nil
}

// Open continues an existing journal: it takes the lock, reads and checks
// every line, and returns the entries. A torn last line (a crash
// mid-write) is cut off, and a resume entry recording the discarded bytes'
// count and sha256 is appended, so the repair is itself on the record.
// Without a torn line Open appends nothing; a caller resuming a ceremony
// appends its own resume entry.
func Open(ctx context.Context, path string, signer Signer) (*Journal, []Entry, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("transcript: %w", err)
	}
	j, err := open(ctx, path, f, signer)
	if err != nil {
		f.Close()
		if !errors.Is(err, ErrInUse) && !errors.Is(err, ErrTornTail) && ctx.Err() == nil {
			return nil, nil, fmt.Errorf("transcript %s: %w: it was changed after it was written; restore it from a copy (or start a new ceremony in a new output directory)", path, err)
		}
		return nil, nil, fmt.Errorf("transcript %s: %w", path, err)
	}
	return j, j.Entries(), nil
}

func open(ctx context.Context, path string, f *os.File, signer Signer) (*Journal, error) {
	if err := lock(f); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	lines, tail := split(data)
	entries, err := check(lines)
	switch {
	case err != nil:
		return nil, err
	case len(lines) == 0 && len(tail) == 0:
		return nil, fmt.Errorf("empty: no header")
	case len(lines) == 0:
		return nil, fmt.Errorf("line 1: %w in the header: the ceremony never started; remove the file to start over", ErrTornTail)
	case len(tail) > 0 && entries[len(entries)-1].Kind == KindSeal:
		return nil, fmt.Errorf("line %d: %w after the seal", len(lines)+1, ErrTornTail)
	}
	j := &Journal{path: path, signer: signer, f: f, entries: entries,
		prev: lineDigest(lines[len(lines)-1]), size: int64(len(data) - len(tail))}
	if len(tail) == 0 {
		return j, nil
	}
	if err := f.Truncate(j.size); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	results, err := json.Marshal(map[string]any{"tornTail": map[string]any{"bytes": len(tail), "sha256": sha256Hex(tail)}})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if _, err := j.Append(ctx, Entry{Kind: KindResume, Started: now, Finished: now, Results: results}); err != nil {
		return nil, err
	}
	return j, nil
}

// Append writes e as the next line and returns it as written (decoded back,
// so it equals what Read returns later). The line goes out in one write and
// is fsynced before Append returns: a crash leaves at most a torn last line,
// and a reader never sees two entries interleaved.
//
// Inputs must not contain secrets: under a key containing pin, passphrase,
// password or secret (any case, any depth) only a source spelling (env:NAME,
// file:PATH, prompt), "", a bool or null is accepted; otherwise Append
// refuses and writes nothing. Any entry Read would reject is refused too.
func (j *Journal) Append(ctx context.Context, e Entry) (Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e.Seq, e.Prev = len(j.entries), j.prev
	errorf := func(format string, args ...any) (Entry, error) {
		return Entry{}, fmt.Errorf("transcript %s: line %d: "+format, append([]any{j.path, e.Seq + 1}, args...)...)
	}
	switch {
	case j.f == nil:
		return errorf("journal is closed")
	case j.broken != nil:
		return errorf("an earlier write failed (%w); reopen the journal", j.broken)
	case e.Seq > 0 && j.entries[e.Seq-1].Kind == KindSeal:
		return errorf("journal is sealed")
	}
	if err := checkInputs(e.Inputs); err != nil {
		return errorf("%w", err)
	}
	e.Started, e.Finished = e.Started.UTC(), e.Finished.UTC()
	line, err := encodeLine(ctx, &e, j.signer)
	if err != nil {
		return errorf("%w", err)
	}
	raw := line[:len(line)-1]
	written, err := decodeLine(raw, e.Seq, e.Prev)
	if err == nil && e.Kind == KindSeal {
		err = j.checkSeal(written)
	}
	if err != nil {
		return errorf("refusing to write: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return errorf("%w", err)
	}
	// os.File.Write issues a single write(2) for a line this size; O_APPEND
	// plus the lock keep it contiguous at the end of the file.
	if _, err = j.f.Write(line); err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		// Best effort: cut a partial line off now. If this fails too, Open
		// will find a torn tail and repair it.
		j.f.Truncate(j.size)
		j.broken = err
		return errorf("%w", err)
	}
	j.entries = append(j.entries, written)
	j.prev = lineDigest(raw)
	j.size += int64(len(line))
	return written, nil
}

// Sum is what the seal must record of the journal so far: the number of
// lines and the hex SHA-256 of all their bytes, as "lines" and "sha256" in
// its Results. Append refuses a seal without them, so that the seal alone
// pins every byte before it.
func (j *Journal) Sum() (lines int, sha256hex string, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return 0, "", fmt.Errorf("transcript %s: journal is closed", j.path)
	}
	sum, err := j.sum()
	if err != nil {
		return 0, "", fmt.Errorf("transcript %s: %w", j.path, err)
	}
	return len(j.entries), sum, nil
}

// sum hashes the complete lines in the file, as they are on disk.
func (j *Journal) sum() (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(j.f, 0, j.size)); err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkSeal is Verify's seal rule, applied before the seal is written.
func (j *Journal) checkSeal(seal Entry) error {
	sum, err := j.sum()
	if err != nil {
		return err
	}
	return checkSeal(seal, len(j.entries), sum)
}

// Entries returns the entries in the file, in order. The slice is a copy;
// the maps and slices inside entries are shared and must not be modified.
func (j *Journal) Entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Close releases the lock. Closing twice is harmless.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// Read parses and checks a journal without locking or changing it, for
// verify and report. A torn last line is an error here (ErrTornTail): only
// Open, which owns the file, may repair it. A reader racing a writer may see
// a line still being written and get ErrTornTail; reading again settles it.
func Read(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("transcript: %w", err)
	}
	entries, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("transcript %s: %w", path, err)
	}
	return entries, nil
}

// parse is Read without the file.
func parse(data []byte) ([]Entry, error) {
	lines, tail := split(data)
	entries, err := check(lines)
	switch {
	case err != nil:
		return nil, err
	case len(tail) > 0:
		return nil, fmt.Errorf("line %d: %w (%d bytes)", len(lines)+1, ErrTornTail, len(tail))
	case len(lines) == 0:
		return nil, fmt.Errorf("empty: no header")
	}
	return entries, nil
}

// lock takes an exclusive flock. flock belongs to the open file
// description, so it excludes other processes and other Opens in this one;
// the kernel drops it when the file is closed or the process dies, so a
// crash never leaves a stale lock.
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrInUse
	}
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

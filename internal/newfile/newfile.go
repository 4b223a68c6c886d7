// Package newfile writes files that are whole or absent and never replace
// anything: the bytes go to a temporary file beside the final name, are
// synced, and the temporary file is linked to the final name. link(2) fails
// when the name exists, so an existing file is never overwritten, and a
// crash leaves either the whole file or only a ".tmp-" file (TempPrefix),
// which a later run may remove.
package newfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temporary file: a file under it is
// never an output, only the remains of an interrupted write.
const TempPrefix = ".tmp-"

// Temp is a temporary file that will become path. It is an *os.File, so a
// caller may lock it and write through its own code before linking it.
type Temp struct {
	*os.File
	path    string
	syncDir func(dir string) error // a seam for the tests
}

// Create makes a temporary file "TempPrefix<base>-*" in path's directory
// with mode perm (not masked by the umask).
func Create(path string, perm os.FileMode) (*Temp, error) {
	return create(path, perm, syncDir)
}

func create(path string, perm os.FileMode, syncDir func(string) error) (*Temp, error) {
	f, err := os.CreateTemp(filepath.Dir(path), TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return nil, fmt.Errorf("new file %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("new file %s: %w", path, err)
	}
	return &Temp{File: f, path: path, syncDir: syncDir}, nil
}

// Path is the final name.
func (t *Temp) Path() string { return t.path }

// Link syncs the file, links it to its final name and syncs the directory,
// so the name is durable when Link returns. The file stays open (a lock on
// it stays held), and the temporary name stays until Remove. A taken final
// name is an error wrapping fs.ErrExist.
func (t *Temp) Link() error {
	if err := t.Sync(); err != nil {
		return fmt.Errorf("new file %s: %w", t.path, err)
	}
	return t.link()
}

// link is Link for a file already synced.
func (t *Temp) link() error {
	if err := os.Link(t.Name(), t.path); err != nil {
		return fmt.Errorf("new file %s: %w", t.path, unwrapLink(err))
	}
	return t.syncParent()
}

// Remove deletes the temporary name, after Link or instead of it; the open
// file and the final name are untouched. Defer it right after Create.
func (t *Temp) Remove() {
	os.Remove(t.Name())
}

func (t *Temp) syncParent() error {
	if err := t.syncDir(filepath.Dir(t.path)); err != nil {
		return fmt.Errorf("new file %s: sync directory: %w", t.path, err)
	}
	return nil
}

// Write puts data at path as a new file with mode perm, whole or not at all.
// beforeLink, when not nil, runs once the bytes are durable in the temporary
// file and before the link: kill-point tests stop the process there.
//
// A file already at path holding exactly data counts as written (a resumed
// run writing again what an interrupted one finished); one holding anything
// else is an error wrapping fs.ErrExist, and is left as it is.
func Write(path string, data []byte, perm os.FileMode, beforeLink func()) error {
	return write(path, data, perm, beforeLink, syncDir)
}

// WriteLinked is Write without the directory sync: the file is whole and
// under its final name when WriteLinked returns, but the name is durable
// only once the caller has synced the directory (SyncDir). Several files
// written into one directory then share one sync.
func WriteLinked(path string, data []byte, perm os.FileMode, beforeLink func()) error {
	return write(path, data, perm, beforeLink, func(string) error { return nil })
}

// SyncDir makes the names linked into dir durable.
func SyncDir(dir string) error {
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

func write(path string, data []byte, perm os.FileMode, beforeLink func(), syncDir func(string) error) error {
	t, err := create(path, perm, syncDir)
	if err != nil {
		return err
	}
	defer t.Remove()
	defer t.Close()
	return t.fill(data, beforeLink)
}

func (t *Temp) fill(data []byte, beforeLink func()) error {
	if _, err := t.File.Write(data); err != nil {
		return fmt.Errorf("new file %s: %w", t.path, err)
	}
	if err := t.Sync(); err != nil {
		return fmt.Errorf("new file %s: %w", t.path, err)
	}
	if beforeLink != nil {
		beforeLink()
	}
	// Synced above: a second fsync of the same bytes would only cost time.
	err := t.link()
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	if old, rerr := os.ReadFile(t.path); rerr != nil || !bytes.Equal(old, data) {
		return fmt.Errorf("new file %s: %w and holds other bytes; it is never overwritten", t.path, fs.ErrExist)
	}
	// The interrupted run may have died before its directory sync.
	return t.syncParent()
}

// unwrapLink drops the *LinkError's two names: the caller names the file,
// and the temporary name means nothing to a reader.
func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

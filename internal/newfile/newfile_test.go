package newfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stop is what a kill-point hook panics with: the write stops there as a
// crash would, and only the deferred clean-up runs.
type stop struct{}

func TestWrite(t *testing.T) {
	data := []byte("-----BEGIN CERTIFICATE-----\n")
	for _, tc := range []struct {
		name string
		// setup prepares dir and returns the path to write.
		setup     func(t *testing.T, dir string) string
		hook      func(path string) // the beforeLink hook; nil checks the temp file
		syncErr   error
		wantErr   string // "" for success
		wantExist bool   // the error wraps fs.ErrExist
		want      []byte // the file's content afterwards; nil: absent
		wantSyncs int
		noTemp    bool // the temporary file cannot be made: the hook never runs
	}{
		{name: "new file", setup: fresh, want: data, wantSyncs: 1},
		{name: "existing, same bytes (a resumed write)", setup: existing(data), want: data, wantSyncs: 1},
		{name: "existing, other bytes", setup: existing([]byte("other")), wantErr: "holds other bytes", wantExist: true, want: []byte("other")},
		{name: "directory sync fails", setup: fresh, syncErr: errors.New("EIO"), wantErr: "sync directory: EIO", want: data, wantSyncs: 1},
		{name: "stopped before the link", setup: fresh, hook: func(string) { panic(stop{}) }, wantErr: "stopped"},
		{name: "missing directory", setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "nodir", "ca.pem") }, wantErr: "no such file", noTemp: true},
		// sysfs takes no new file from anyone, root included, so this row
		// holds when the tests run as root (a chmod would not stop root).
		{name: "read-only directory", setup: func(*testing.T, string) string { return "/sys/kernel/ca.pem" }, wantErr: "new file /sys/kernel/ca.pem", noTemp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			syncs := 0
			spy := func(d string) error {
				if d != filepath.Dir(path) {
					t.Errorf("synced %s, want %s", d, filepath.Dir(path))
				}
				syncs++
				return tc.syncErr
			}
			hook := tc.hook
			if hook == nil {
				hook = func(path string) { checkTempBeforeLink(t, path, data) }
			}
			hooked := false
			err := writeStopped(path, data, func() { hooked = true; hook(path) }, spy)
			if hooked == tc.noTemp {
				t.Errorf("beforeLink ran: %v, want %v", hooked, !tc.noTemp)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Write: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Write: %v, want an error containing %q", err, tc.wantErr)
			case errors.Is(err, fs.ErrExist) != tc.wantExist:
				t.Fatalf("Write: %v; wraps fs.ErrExist: %v, want %v", err, errors.Is(err, fs.ErrExist), tc.wantExist)
			}
			if syncs != tc.wantSyncs {
				t.Errorf("directory synced %d times, want %d", syncs, tc.wantSyncs)
			}
			checkContent(t, path, tc.want)
			if left := temps(t, filepath.Dir(path)); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// writeStopped is write, with a panic{stop} from the hook turned into an
// error "stopped", as the steps tests' runUntil stops a run.
func writeStopped(path string, data []byte, hook func(), syncDir func(string) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r != (stop{}) {
				panic(r)
			}
			err = errors.New("stopped")
		}
	}()
	return write(path, data, 0o640, hook, syncDir)
}

func fresh(t *testing.T, dir string) string { return filepath.Join(dir, "ca.pem") }

func existing(content []byte) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		path := filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
}

// checkTempBeforeLink: when the hook runs, the bytes are whole in one
// temporary file of the right mode beside path.
func checkTempBeforeLink(t *testing.T, path string, data []byte) {
	t.Helper()
	left := temps(t, filepath.Dir(path))
	if len(left) != 1 || !strings.HasPrefix(left[0], TempPrefix+filepath.Base(path)+"-") {
		t.Fatalf("temporary files before the link: %v", left)
	}
	tmp := filepath.Join(filepath.Dir(path), left[0])
	if b, err := os.ReadFile(tmp); err != nil || string(b) != string(data) {
		t.Errorf("temporary file holds %q (%v), want %q", b, err, data)
	}
	if fi, err := os.Stat(tmp); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("temporary file mode %v (%v), want 0640", fi.Mode(), err)
	}
}

func checkContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	switch {
	case want == nil && !errors.Is(err, fs.ErrNotExist):
		t.Errorf("%s exists (%v), want it absent", path, err)
	case want != nil && string(got) != string(want):
		t.Errorf("%s holds %q (%v), want %q", path, got, err, want)
	}
}

// temps lists the temporary files in dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestTempLink: the primitives the transcript uses. The file stays open and
// writable after Link, under both names until Remove; a taken name is
// refused and left alone.
func TestTempLink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal")
	tmp, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	defer tmp.Remove()
	if _, err := tmp.WriteString("header\n"); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Link(); err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString("entry\n"); err != nil {
		t.Fatal(err)
	}
	checkContent(t, path, []byte("header\nentry\n"))
	tmp.Remove()
	if left := temps(t, dir); len(left) > 0 {
		t.Errorf("temporary name left after Remove: %v", left)
	}
	checkContent(t, path, []byte("header\nentry\n"))

	again, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	again.WriteString("other\n")
	if err := again.Link(); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Link over an existing file: %v, want fs.ErrExist", err)
	}
	again.Remove()
	checkContent(t, path, []byte("header\nentry\n"))
	if left := temps(t, dir); len(left) > 0 {
		t.Errorf("temporary name left after a failed Link: %v", left)
	}
}

// TestWriteLinked: the file is whole under its name, with no temporary left,
// and the same bytes again count as written; the directory is the caller's
// to sync.
func TestWriteLinked(t *testing.T) {
	data := []byte("-----BEGIN CERTIFICATE REQUEST-----\n")
	dir := t.TempDir()
	path := filepath.Join(dir, "r.csr")
	for range 2 {
		if err := WriteLinked(path, data, 0o644, nil); err != nil {
			t.Fatal(err)
		}
		checkContent(t, path, data)
	}
	if err := WriteLinked(path, []byte("other"), 0o644, nil); !errors.Is(err, fs.ErrExist) {
		t.Errorf("WriteLinked over other bytes: %v, want fs.ErrExist", err)
	}
	if left := temps(t, dir); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := SyncDir(dir); err != nil {
		t.Error(err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("SyncDir of a missing directory passed")
	}
}

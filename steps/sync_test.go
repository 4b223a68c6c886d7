package steps

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
)

// TestUnsyncedNames: every directory whose entries a step relies on is
// synced before the step's journal entry or a certificate on the token:
// one a file was written into, the parent of a directory made for it, and
// one where a file from a run that was killed was found (its name may never
// have reached the disk).
func TestUnsyncedNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, st *State)
		want  []string // relative to the output directory; "." is itself
	}{
		{"a file written", func(t *testing.T, st *State) { mustWrite(t, st, "ca.pem") }, []string{"."}},
		{"a file in a new directory", func(t *testing.T, st *State) { mustWrite(t, st, "repos/a.csr") }, []string{".", "repos"}},
		{"a file in a directory there already", func(t *testing.T, st *State) {
			if err := os.Mkdir(st.outPath("repos"), 0o755); err != nil {
				t.Fatal(err)
			}
			mustWrite(t, st, "repos/a.csr")
		}, []string{"repos"}},
		{"a file an earlier run left", func(t *testing.T, st *State) {
			if err := os.MkdirAll(st.outPath("repos"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(st.outPath("repos/a.pem"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := st.existing("repos/a.pem"); err != nil || string(b) != "x" {
				t.Fatalf("existing = %q, %v", b, err)
			}
		}, []string{"repos"}},
		{"no file there", func(t *testing.T, st *State) {
			if b, err := st.existing("repos/a.pem"); err != nil || b != nil {
				t.Fatalf("existing = %q, %v", b, err)
			}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			st := &State{cfg: &config.Config{Output: out}, unsynced: map[string]bool{}, hook: func(string) {}, step: &Step{ID: "ca"}}
			tc.setup(t, st)
			var want []string
			for _, rel := range tc.want {
				want = append(want, filepath.Join(out, rel))
			}
			if got := slices.Sorted(maps.Keys(st.unsynced)); !slices.Equal(got, want) {
				t.Fatalf("unsynced %q, want %q", got, want)
			}
			if err := st.syncWritten(); err != nil || len(st.unsynced) != 0 {
				t.Fatalf("syncWritten: %v, left %q", err, slices.Collect(maps.Keys(st.unsynced)))
			}
		})
	}
}

func mustWrite(t *testing.T, st *State, rel string) {
	t.Helper()
	if err := st.write(rel, []byte("data")); err != nil {
		t.Fatal(err)
	}
}

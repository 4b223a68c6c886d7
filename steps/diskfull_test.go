package steps_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
)

// mountTmpfs puts a tmpfs of size bytes on dir (made if missing), unmounted
// when the test ends: an output directory whose disk fills up.
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s (the test needs root): %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// used is how many bytes the filesystem of dir has taken.
func used(t *testing.T, dir string) int64 {
	t.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return int64(fs.Blocks-fs.Bfree) * fs.Bsize
}

// TestDiskFull runs the ceremony with its output directory on a small
// filesystem, of every size in pages up to what a whole ceremony writes:
// the disk fills at each write in turn (the transcript key's intent, the
// journal's header and lines, each certificate and CSR). The run must stop
// with one line naming the step and the full disk, the journal must hold,
// and once there is room again the rerun must finish whole.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	cfg := faultCeremony(t, srv, testenv.NewToken(t))
	mountTmpfs(t, cfg.OutputDir(), 16<<20)
	if err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test"}); err != nil {
		t.Fatalf("recording run: %v", err)
	}
	page := int64(os.Getpagesize())
	pages := used(t, cfg.OutputDir()) / page
	t.Logf("a whole ceremony takes %d pages of its output directory", pages)
	// By default every fourth size from one page (a size of 0 is no
	// limit to tmpfs): the rest under -faults.full.
	for n := int64(1); n < pages; n++ {
		if !*faultsFull && n%4 != 1 {
			continue
		}
		t.Run(fmt.Sprintf("%d-pages", n), func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			cfg := faultCeremony(t, srv, tok)
			mountTmpfs(t, cfg.OutputDir(), n*page)
			err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test"})
			if err == nil {
				t.Fatalf("the run finished in %d pages", n)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, "no space left on device") ||
				!(strings.HasPrefix(msg, "step ") || strings.HasPrefix(msg, "preflight: ") || strings.HasPrefix(msg, "seal the journal: ")) {
				t.Fatalf("the error is not one line naming the step and the full disk:\n%s", msg)
			}
			t.Logf("%d pages: %s", n, msg)
			journalConsistent(t, cfg)
			if err := syscall.Mount("tmpfs", cfg.OutputDir(), "tmpfs", syscall.MS_REMOUNT, "size=16m"); err != nil {
				t.Fatal(err)
			}
			if err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test"}); err != nil {
				t.Fatalf("rerun with room on the disk: %v", err)
			}
			finishedWhole(t, cfg, tok, srv)
		})
	}
}

package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/scratch"
)

// The components, under the names the tests use.
type (
	NotaryServer = scratch.NotaryServer
	Registry     = scratch.Registry
)

// NotaryServerT starts a server for one test and stops it when the test
// ends. A missing notary-server fails the test: it is on the acceptance path,
// never skipped. The server's log is printed when the test has failed.
func NotaryServerT(tb testing.TB) *NotaryServer {
	tb.Helper()
	Tool(tb, scratch.NotaryServerBinary)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := scratch.StartNotaryServer(ctx, tb.TempDir())
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("testenv: %v", err)
		}
		if tb.Failed() {
			tb.Logf("notary-server log (last 15 lines):\n%s", s.LogTail(15))
		}
	})
	return s
}

// NotaryCLI returns a runner for the Debian notary CLI 0.7.0 with a fresh
// trust dir and a config that knows only the server, its TLS CA and the
// pinned CA for gun (a GUN or a GUN prefix), TOFU off: the independent
// client the interop tests read published data with. A failing command
// fails the test. Global flags go first: ("-d", dir, "key", "list") reads
// another trust dir. env adds NAME=value pairs to the CLI's environment,
// for the passphrases of the commands that write.
func NotaryCLI(tb testing.TB, srv *NotaryServer, pinCA, gun string, env ...string) func(args ...string) string {
	tb.Helper()
	try := NotaryCLIMayFail(tb, srv, pinCA, gun, env...)
	return func(args ...string) string {
		tb.Helper()
		out, err := try(args...)
		if err != nil {
			tb.Fatalf("notary %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
}

// NotaryCLIMayFail is NotaryCLI for a test that expects a refusal: the
// runner returns what the command printed and how it ended.
func NotaryCLIMayFail(tb testing.TB, srv *NotaryServer, pinCA, gun string, env ...string) func(args ...string) (string, error) {
	tb.Helper()
	bin := Tool(tb, "notary")
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "config.json")
	if err := srv.WriteCLIConfig(cfg, filepath.Join(dir, "trust"), gun, pinCA); err != nil {
		tb.Fatal(err)
	}
	return func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-c", cfg}, args...)...)
		cmd.Env = append([]string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// RegistryT starts a registry for one test and closes it when the test ends.
func RegistryT(tb testing.TB) *Registry {
	tb.Helper()
	r := scratch.StartRegistry(nil)
	tb.Cleanup(r.Close)
	return r
}

// DockerRegistryT starts Debian's docker-registry for tb and stops it at the
// end; missing, it fails (make deps installs it).
func DockerRegistryT(tb testing.TB) *Registry {
	tb.Helper()
	r, err := scratch.StartDockerRegistry(context.Background(), tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.Close)
	return r
}

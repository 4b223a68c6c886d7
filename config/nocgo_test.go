package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestBuildsWithoutCgo: a config is checked anywhere, long before the
// ceremony, so this package must not link the PKCS#11 binding (cgo). The
// build fails if anything it imports needs cgo.
func TestBuildsWithoutCgo(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goTool, "build", "-o", os.DevNull, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./config: %v\n%s", err, out)
	}
}

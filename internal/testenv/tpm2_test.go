package testenv

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/scratch"
)

// TestStartTPM2 starts two scratch TPM2s side by side: each answers through
// its own resource manager on its own bus and store, and Stop ends every
// process by its PID (twice is a no-op). The module is not loaded here: a
// process loads it for one TPM2 only.
func TestStartTPM2(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var tpms []*scratch.TPM2
	for range 2 {
		tpm, err := scratch.StartTPM2(ctx, t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tpm.Stop() })
		tpms = append(tpms, tpm)
	}
	a, b := tpms[0], tpms[1]
	if a.TCTI == b.TCTI || a.Store == b.Store || env(a, "DBUS_SESSION_BUS_ADDRESS") == env(b, "DBUS_SESSION_BUS_ADDRESS") {
		t.Fatalf("two TPM2s share a bus, a store or a TCTI: %v / %v", a.Env, b.Env)
	}
	for _, name := range []string{"TPM2_PKCS11_TCTI", "TPM2_PKCS11_STORE", "DBUS_SESSION_BUS_ADDRESS"} {
		if env(a, name) == "" {
			t.Errorf("Env lacks %s: %v", name, a.Env)
		}
	}
	pids := a.PIDs()
	if len(pids) != 3 {
		t.Fatalf("PIDs %v, want swtpm, dbus-daemon, tpm2-abrmd", pids)
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
	if err := a.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func env(t *scratch.TPM2, name string) string {
	for _, kv := range t.Env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ceremony-dev/ceremony/audit/audittest"
	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/newfile"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
)

var faultsFull = flag.Bool("faults.full", false, "kill the ceremony at every hook point, not only at the step boundaries")

// killCeremony is the kill tests' ceremony: every kind of step (keys,
// certificates, notary init, the snapshot rotation, a delegation) on one
// repository, the PIN from the environment.
func killCeremony(tok testenv.Token, srv *testenv.NotaryServer, gun string) testenv.Ceremony {
	c := headless(tok)
	c.GUNs, c.Notary, c.Delegations = []string{gun}, srv, []testenv.Delegation{{}}
	return c
}

// TestKillAtEveryPoint kills the ceremony with SIGKILL at each point the
// runner names (by default at each step boundary: right after a step is
// recorded, before the next begins; under -faults.full at every point
// inside the steps too), then runs it again. The journal must read back
// after the kill, and the rerun must finish with exactly one key pair and
// certificate per label, a transcript that verifies, and each publication
// made once.
func TestKillAtEveryPoint(t *testing.T) {
	t.Parallel()
	killer := killhookBinary(t)
	srv := testenv.NotaryServerT(t)
	const gun = "docker.io/kill/every"
	// The points a whole ceremony passes, in order, from an in-process run.
	var points []string
	c := killCeremony(testenv.NewToken(t), srv, gun)
	c.PIN = "" // the token's PIN file: this process has no CEREMONY_TEST_PIN
	cfg, err := config.Load(c.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Hook: func(p string) { points = append(points, p) }}); err != nil {
		t.Fatalf("recording run: %v", err)
	}
	t.Logf("%d points: %v", len(points), points)
	var mu sync.Mutex
	serial := 0
	for _, point := range points {
		if !*faultsFull && !strings.HasSuffix(point, ":after-record") {
			continue
		}
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			mu.Lock()
			serial++
			g := fmt.Sprintf("docker.io/kill/every%d", serial)
			mu.Unlock()
			// The point names the repository as a GUN and as a file name.
			killAt := strings.NewReplacer(gun, g, strings.ReplaceAll(gun, "/", "_"), strings.ReplaceAll(g, "/", "_")).Replace(point)
			tok := testenv.NewToken(t)
			cfg := killCeremony(tok, srv, g).Write(t)
			out := filepath.Join(filepath.Dir(cfg), "out")

			cmd := exec.Command(killer, "run", "--config", cfg, "--non-interactive")
			cmd.Env = append(append(os.Environ(), pinEnv(tok)...), "CEREMONY_KILL_AT="+killAt)
			got, err := cmd.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
				t.Fatalf("the run was not killed at %s (%v):\n%s", killAt, err, got)
			}
			audittest.JournalConsistent(t, filepath.Join(out, transcript.FileName))

			r := ceremony(t, pinEnv(tok), "run", "--config", cfg, "--non-interactive")
			if r.code != 0 {
				t.Fatalf("rerun after a kill at %s: exit %d\n%s\n%s", killAt, r.code, r.stdout, r.stderr)
			}
			audittest.OneKeyPerLabel(t, tok, "ca", "transcript", "root")
			filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), newfile.TempPrefix) {
					t.Errorf("half-written file left: %s", p)
				}
				return nil
			})
			verifies(t, out)
			raw, code, err := srv.Get(context.Background(), "/v2/"+g+"/_trust/tuf/root.json")
			var root struct{ Signed struct{ Version int } }
			if err != nil || code != 200 || json.Unmarshal(raw, &root) != nil || root.Signed.Version != 2 {
				t.Fatalf("root.json after the rerun: status %d, version %d, %v", code, root.Signed.Version, err)
			}
		})
	}
}

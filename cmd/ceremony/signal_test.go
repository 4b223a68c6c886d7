package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// exitWithin is how long a signalled run may take to end: generous, because
// the point is that it ends at all (before, a run waiting on a FIFO or a
// prompt ignored Ctrl-C and SIGTERM until Enter or kill -9).
const exitWithin = 10 * time.Second

// TestSignalWhileSecretFIFOBlocks: a run whose PIN source is a FIFO whose
// writer says nothing ends on SIGTERM or SIGINT at once, with one line, no key made, and
// the same command starts again (here the PIN then arrives).
func TestSignalWhileSecretFIFOBlocks(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			fifo := filepath.Join(t.TempDir(), "pin")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Fatal(err)
			}
			c := headless(tok)
			c.PIN = "file:" + fifo
			cfg := c.Write(t)
			cmd := exec.Command(binary, "run", "--config", cfg, "--non-interactive")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() }) // a no-op once it has ended
			writer := waitReader(t, fifo)
			cmd.Process.Signal(sig)
			code := waitExited(t, cmd)
			writer.Close()
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			if code == 0 || len(lines) != 1 || !strings.Contains(lines[0], "interrupted") || !strings.Contains(lines[0], "run the same command") {
				t.Fatalf("exit %d, stderr %q; want non-zero and one line saying it was interrupted and how to go on", code, stderr.String())
			}
			if objs, err := tok.Session(t).Objects(context.Background()); err != nil || len(objs) != 0 {
				t.Fatalf("the token holds %d objects after the interrupted run (%v)", len(objs), err)
			}
			if sig != syscall.SIGTERM {
				return
			}
			// The same command again: this time the PIN is written.
			go func() {
				if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
					f.WriteString(tok.PIN + "\n")
					f.Close()
				}
			}()
			if r := ceremony(t, nil, "run", "--config", cfg, "--non-interactive"); r.code != 0 || !strings.Contains(r.stdout, "ceremony finished") {
				t.Fatalf("run again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestCtrlCAtMaskedPrompt presses Ctrl-C at the PIN prompt in a real
// terminal: the run ends with one line, and the terminal echoes again
// (stty, run by the shell after it, says echo, not -echo).
func TestCtrlCAtMaskedPrompt(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	c := headless(tok)
	c.PIN = "prompt"
	cfg := c.Write(t)
	x := newTerm(t, "ctrlc", 200, 50)
	// The shell's trap outlives the Ctrl-C that the whole foreground group
	// gets, so it can print the terminal's state and the exit status.
	x.do("respawn-pane", "-k", "-t", "w", "env", "SOFTHSM2_CONF="+testenvConf(t), "sh", "-c",
		`trap : INT; "$0" "$@"; s=$?; stty -a | tr ';' '\n' | tr ' ' '\n' | grep -x -- '-*echo'; echo "[exit $s]"`,
		binary, "run", "--plain", "--config", cfg)
	x.waitText("PIN for token")
	x.keys("C-c")
	status, screen := x.waitExitWithin(exitWithin)
	if status == "0" || strings.Count(screen, "ceremony: interrupted") != 1 {
		t.Fatalf("exit %s; want non-zero and one interrupted line:\n%s", status, screen)
	}
	if !regexp.MustCompile(`(?m)^echo$`).MatchString(screen) {
		t.Fatalf("the terminal was left without echo:\n%s", screen)
	}
	if objs, err := tok.Session(t).Objects(context.Background()); err != nil || len(objs) != 0 {
		t.Fatalf("the token holds %d objects after the interrupted run (%v)", len(objs), err)
	}
}

// waitReader waits until something opens the FIFO for reading (opening
// its write end without blocking fails until then), and holds that end
// open, unwritten: the run is at the read that used to block.
func waitReader(t *testing.T, fifo string) *os.File {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			t.Cleanup(func() { f.Close() })
			return f
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing opened %s to read", fifo)
	return nil
}

// waitExited waits for cmd, killing it (and failing) past exitWithin.
func waitExited(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(exitWithin):
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running %s after the signal", exitWithin)
		return 0
	}
}

// waitExitWithin is waitExit with its own deadline.
func (x *tmuxPane) waitExitWithin(d time.Duration) (status, screen string) {
	x.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s := x.do("capture-pane", "-p", "-J", "-S", "-200", "-t", "w")
		if m := exitRE.FindStringSubmatch(s); m != nil {
			return m[1], s
		}
		time.Sleep(30 * time.Millisecond)
	}
	x.t.Fatalf("still running %s after Ctrl-C:\n%s", d, x.screen())
	return "", ""
}

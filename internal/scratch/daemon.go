package scratch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon is a long-running child process of a scratch component, stopped by
// its PID.
type daemon struct {
	name string
	PID  int
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	werr error         // cmd.Wait's result, valid after done
}

// startDaemon starts cmd with its output appended to logPath. The child gets
// its own process group (a Ctrl-C at a terminal does not reach it) and a
// death signal (a test binary killed by its timeout leaves nothing behind);
// cred, when set, is the user it runs as.
func startDaemon(name string, cmd *exec.Cmd, logPath string, cred *syscall.Credential) (*daemon, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logf.Close() // the child holds its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	// Go sets the death signal after switching to cred, so it survives the
	// switch (a setpriv or runuser in between would clear it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, PID: cmd.Process.Pid, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { d.werr = cmd.Wait(); close(d.done) }()
	return d, nil
}

// stop sends sig, then SIGKILL if the process has not exited within
// notaryStopTimeout. Stopping a stopped daemon is a no-op.
func (d *daemon) stop(sig syscall.Signal) error {
	if d == nil {
		return nil
	}
	select {
	case <-d.done:
		return nil
	default:
	}
	if err := d.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s (pid %d): %w", d.name, d.PID, err)
	}
	select {
	case <-d.done:
		return nil
	case <-time.After(notaryStopTimeout):
	}
	if err := d.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s (pid %d): %w", d.name, d.PID, err)
	}
	<-d.done
	return nil
}

// waitFor polls ready every 50 ms until it succeeds, the process exits or
// ctx (bounded by notaryStartTimeout) ends; a failure quotes the log's end.
func (d *daemon) waitFor(ctx context.Context, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, notaryStartTimeout)
	defer cancel()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("%s exited during start-up (%v); log %s ends:\n%s", d.name, d.werr, d.log, tail(d.log, 20))
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %w (last: %v); log %s ends:\n%s", d.name, ctx.Err(), last, d.log, tail(d.log, 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tail is the last n lines of a log file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// serviceUser is the credential a database server runs under: PostgreSQL
// refuses to run as root, so root runs it as the `postgres` system user
// Debian's package makes; anyone else runs it as themselves (nil).
func serviceUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("the postgres system user: %w (install Debian's postgresql package: make deps)", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

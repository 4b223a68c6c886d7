package scratch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TPM2Module is tpm2-pkcs11's library where Debian's libtpm2-pkcs11-1
// installs it.
const TPM2Module = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"

// TPM2Tools are the programs a scratch TPM needs, as Debian installs them.
var TPM2Tools = []string{"swtpm", "dbus-daemon", "tpm2-abrmd", "tpm2_getrandom", "tpm2_dictionarylockout"}

// TPM2 is a private software TPM behind tpm2-pkcs11: swtpm on two free
// loopback ports, a D-Bus session bus of its own, and tpm2-abrmd on that bus
// as the resource manager (without it the library keeps every key loaded and
// the TPM's three transient slots run out at the second key). Nothing is
// shared with the host or another TPM2: each has its own state, store, ports
// and bus. The module reads Env at C_Initialize, so a process loads it for
// one TPM2 at most.
type TPM2 struct {
	Dir    string   // state, store, bus socket and logs
	Module string   // TPM2Module
	Store  string   // tpm2-pkcs11's sqlite store (TPM2_PKCS11_STORE)
	TCTI   string   // how the library reaches the TPM (TPM2_PKCS11_TCTI)
	Env    []string // NAME=value pairs to set before the module is loaded

	procs []*child // started in order; stopped in reverse
}

// How long the TPM may take to answer after its processes started: it is up
// in 0.4–1.4 s here; the margin is for a loaded CI machine.
const tpm2StartTimeout = 20 * time.Second

// StartTPM2 starts a fresh TPM2 with its files under dir and returns once
// the TPM answers through the resource manager. With noLockout the TPM's
// dictionary-attack protection is turned off, for tests that try wrong
// PINs: otherwise three wrong PINs, on any token of this TPM, lock every
// token for 1000 s. The processes are not tied to ctx after the start:
// call Stop.
func StartTPM2(ctx context.Context, dir string, noLockout bool) (*TPM2, error) {
	for _, tool := range TPM2Tools {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("start TPM2: %w (install Debian's swtpm, swtpm-tools, tpm2-tools, tpm2-abrmd, dbus: make deps)", err)
		}
	}
	if _, err := os.Stat(TPM2Module); err != nil {
		return nil, fmt.Errorf("start TPM2: %w (install Debian's libtpm2-pkcs11-1: make deps)", err)
	}
	t := &TPM2{Dir: dir, Module: TPM2Module, Store: filepath.Join(dir, "store")}
	if err := t.start(ctx, noLockout); err != nil {
		t.Stop()
		return nil, fmt.Errorf("start TPM2: %w", err)
	}
	return t, nil
}

func (t *TPM2) start(ctx context.Context, noLockout bool) error {
	for _, d := range []string{t.Dir, filepath.Join(t.Dir, "tpmstate"), t.Store} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, tpm2StartTimeout)
	defer cancel()
	port, err := t.startSWTPM(ctx)
	if err != nil {
		return err
	}
	bus, err := t.startBus(ctx)
	if err != nil {
		return err
	}
	// The bus name carries the port so that two TPM2s never answer to one name.
	name := fmt.Sprintf("com.intel.tss2.Tabrmd.p%d", port)
	abrmd, err := t.spawn("abrmd", []string{"DBUS_SESSION_BUS_ADDRESS=" + bus}, "tpm2-abrmd", "--session", "--allow-root",
		"--dbus-name="+name, fmt.Sprintf("--tcti=swtpm:host=127.0.0.1,port=%d", port), "--flush-all", "--logger=stdout",
		// tpm2-pkcs11 holds a connection per token and per process (a
		// pkcs11-tool beside the tests holds as many again) and crashes when
		// one is refused; abrmd allows 27 by default and 100 at most.
		"--max-connections=100", "--max-transients=64")
	if err != nil {
		return err
	}
	t.TCTI = "tabrmd:bus_type=session,bus_name=" + name
	t.Env = []string{
		"TPM2_PKCS11_TCTI=" + t.TCTI,
		"TPM2_PKCS11_STORE=" + t.Store,
		"DBUS_SESSION_BUS_ADDRESS=" + bus,
		// The TSS logs every refused call as an ERROR line on stderr, even
		// the wrong PIN the caller expects; the module's errors say enough.
		"TSS2_LOG=all+none",
		"TPM2_PKCS11_LOG_LEVEL=0",
	}
	if err := t.waitReady(ctx, abrmd); err != nil {
		return err
	}
	if noLockout {
		// max-tries at its maximum and no recovery time: wrong PINs never lock.
		if out, err := t.tool(ctx, "tpm2_dictionarylockout", "--setup-parameters", "--max-tries=4294967295",
			"--recovery-time=0", "--lockout-recovery-time=0"); err != nil {
			return fmt.Errorf("tpm2_dictionarylockout: %w: %s", err, out)
		}
	}
	return nil
}

// startSWTPM starts swtpm on a free port pair (P, P+1); a port taken between finding
// it free and binding it makes swtpm exit at once, so a few pairs are tried.
func (t *TPM2) startSWTPM(ctx context.Context) (int, error) {
	var last error
	for range 5 {
		port, ctrl, err := freePorts()
		if err != nil {
			return 0, err
		}
		c, err := t.spawn("swtpm", nil, "swtpm", "socket", "--tpm2",
			"--tpmstate", "dir="+filepath.Join(t.Dir, "tpmstate"),
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", ctrl),
			"--flags", "not-need-init,startup-clear")
		if err != nil {
			return 0, err
		}
		if last = waitListening(ctx, c, port); last == nil {
			return port, nil
		}
		c.stop()
		t.procs = t.procs[:len(t.procs)-1]
	}
	return 0, fmt.Errorf("swtpm: %w", last)
}

// startBus starts a private D-Bus session bus on a socket in Dir and returns
// its address.
func (t *TPM2) startBus(ctx context.Context) (string, error) {
	sock := filepath.Join(t.Dir, "bus.sock")
	conf := filepath.Join(t.Dir, "bus.conf")
	body := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=` + sock + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", err
	}
	c, err := t.spawn("dbus", nil, "dbus-daemon", "--config-file="+conf, "--nofork")
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(sock); err == nil {
			return "unix:path=" + sock, nil
		}
		select {
		case <-c.done:
			return "", fmt.Errorf("dbus-daemon exited during start-up (%v): %s", c.werr, c.logTail())
		case <-ctx.Done():
			return "", fmt.Errorf("dbus-daemon did not create %s: %w", sock, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitReady polls the TPM through the resource manager until it answers.
func (t *TPM2) waitReady(ctx context.Context, abrmd *child) error {
	for {
		out, err := t.tool(ctx, "tpm2_getrandom", "4")
		if err == nil {
			return nil
		}
		select {
		case <-abrmd.done:
			return fmt.Errorf("tpm2-abrmd exited during start-up (%v): %s", abrmd.werr, abrmd.logTail())
		case <-ctx.Done():
			return fmt.Errorf("the TPM does not answer through %s: %w (last: %v: %s)", t.TCTI, ctx.Err(), err, out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tool runs a tpm2-tools program against this TPM.
func (t *TPM2) tool(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), append(t.Env, "TPM2TOOLS_TCTI="+t.TCTI)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// PIDs are the processes' IDs, swtpm first.
func (t *TPM2) PIDs() []int {
	out := make([]int, len(t.procs))
	for i, c := range t.procs {
		out[i] = c.cmd.Process.Pid
	}
	return out
}

// Stop ends the processes by PID, the resource manager first, and keeps
// Dir (the caller made it). Stopping twice is a no-op.
func (t *TPM2) Stop() error {
	var errs []error
	for i := len(t.procs) - 1; i >= 0; i-- {
		errs = append(errs, t.procs[i].stop())
	}
	t.procs = nil
	return errors.Join(errs...)
}

// child is one process of a TPM2, reaped by its own goroutine.
type child struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	werr error
}

func (t *TPM2) spawn(name string, env []string, bin string, args ...string) (*child, error) {
	logPath := filepath.Join(t.Dir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.Dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Own process group (a Ctrl-C at the terminal is for the ceremony) and a
	// death signal (a test binary killed by its timeout leaves nothing behind).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	c := &child{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { c.werr = cmd.Wait(); close(c.done) }()
	t.procs = append(t.procs, c)
	return c, nil
}

// stop sends SIGTERM, then SIGKILL if the process has not exited in time.
func (c *child) stop() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s (pid %d): %w", c.name, c.cmd.Process.Pid, err)
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(3 * time.Second):
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s (pid %d): %w", c.name, c.cmd.Process.Pid, err)
	}
	<-c.done
	return nil
}

func (c *child) logTail() string {
	b, _ := os.ReadFile(c.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

// waitListening waits until swtpm accepts connections on port.
func waitListening(ctx context.Context, c *child, port int) error {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("swtpm exited during start-up (%v): %s", c.werr, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("swtpm does not listen on %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePorts finds a free loopback port P with P+1 free too (the swtpm
// TCTI takes the control channel to be the next port), by binding and
// releasing them.
func freePorts() (int, int, error) {
	for range 20 {
		addr, err := freeAddr()
		if err != nil {
			return 0, 0, err
		}
		_, s, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(s)
		if p >= 65535 {
			continue
		}
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1)); err == nil {
			l.Close()
			return p, p + 1, nil
		}
	}
	return 0, 0, errors.New("no free pair of loopback ports")
}

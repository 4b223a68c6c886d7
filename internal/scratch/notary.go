package scratch

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// NotaryServerBinary is the notary-server Debian's `notary` package installs.
// It is the one to run: a `go install` build of v0.7.0 made with Go >= 1.17
// rejects every delegation publish (see design.md).
const NotaryServerBinary = "notary-server"

// NotaryServer is a running notary-server process: memory storage, the local
// trust service (in-memory ED25519 timestamp and snapshot keys), TLS from a
// throwaway CA. Restarting it means an empty server.
type NotaryServer struct {
	URL     string // https://127.0.0.1:PORT
	CAFile  string // PEM of the CA that issued the server's TLS certificate
	Dir     string // config, TLS files and log
	LogFile string // the server's stdout and stderr
	PID     int

	bin, conf string // binary and configuration, for Restart
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has been reaped
	werr      error         // cmd.Wait's result, valid after done
}

// How long a start or stop may take: notary-server with memory storage is up
// in well under a second; the margins are for a loaded CI machine.
const (
	notaryStartTimeout = 20 * time.Second
	notaryStopTimeout  = 5 * time.Second
)

// StartNotaryServer starts notary-server on a free port of 127.0.0.1 with
// its files under dir, and returns once it answers its health check over TLS
// verified against CAFile. The process is not tied to ctx after the start:
// call Stop.
func StartNotaryServer(ctx context.Context, dir string) (*NotaryServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("start notary-server: %w", err)
	}
	if err := writeServerTLS(dir); err != nil {
		return nil, fmt.Errorf("start notary-server: TLS files: %w", err)
	}
	return startNotary(ctx, dir, memorySetup())
}

// notarySetup is what differs between the scratch servers' configurations:
// where keys and metadata live, and who may write.
type notarySetup struct {
	trustService map[string]any
	storage      map[string]any
	auth         map[string]any // nil: no authentication
}

// memorySetup is notary-api.md §8's server: the local trust service and
// memory storage (the two die together).
func memorySetup() notarySetup {
	return notarySetup{
		trustService: map[string]any{"type": "local"},
		storage:      map[string]any{"backend": "memory"},
	}
}

// startNotary starts notary-server with setup; dir holds ca.pem, server.crt
// and server.key already.
func startNotary(ctx context.Context, dir string, setup notarySetup) (*NotaryServer, error) {
	bin, err := exec.LookPath(NotaryServerBinary)
	if err != nil {
		return nil, fmt.Errorf("start notary-server: %w (install Debian's notary package: make deps)", err)
	}
	// The free port is found by binding and releasing it, so another process
	// may take it before the server binds: try a few ports before giving up.
	var lastErr error
	for range 3 {
		s, err := startNotaryOnce(ctx, bin, dir, setup)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, fmt.Errorf("start notary-server: %w", lastErr)
}

var errAddrInUse = errors.New("address already in use")

func startNotaryOnce(ctx context.Context, bin, dir string, setup notarySetup) (*NotaryServer, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "server.json")
	if err := writeNotaryConfig(conf, dir, addr, setup); err != nil {
		return nil, err
	}
	s := &NotaryServer{
		URL:     "https://" + addr,
		CAFile:  filepath.Join(dir, "ca.pem"),
		Dir:     dir,
		LogFile: filepath.Join(dir, "notary-server.log"),
		bin:     bin,
		conf:    conf,
	}
	if err := s.launch(ctx); err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("%s: %w", addr, errAddrInUse)
		}
		return nil, err
	}
	return s, nil
}

// launch starts the process with the written configuration and waits until
// it is healthy.
func (s *NotaryServer) launch(ctx context.Context) error {
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(s.bin, "-config", s.conf)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a Ctrl-C at the demo's terminal does not kill
	// the server under a ceremony that is still cleaning up; and a death
	// signal, so a test binary killed by its timeout leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.PID, s.done, s.werr = cmd, cmd.Process.Pid, make(chan struct{}), nil
	go func() { s.werr = cmd.Wait(); close(s.done) }()
	if err := s.waitHealthy(ctx, caPEM); err != nil {
		_ = s.Stop()
		return fmt.Errorf("%w; server log %s ends:\n%s", err, s.LogFile, s.LogTail(20))
	}
	return nil
}

// Restart stops the server and starts it again on the same address with the
// same configuration: what its storage keeps survives, memory storage does
// not.
func (s *NotaryServer) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	if err := s.launch(ctx); err != nil {
		return fmt.Errorf("restart notary-server: %w", err)
	}
	return nil
}

// Kill ends the server with SIGKILL, as a crash would, and reaps it.
func (s *NotaryServer) Kill() error {
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill notary-server (pid %d): %w", s.PID, err)
	}
	<-s.done
	return nil
}

// waitHealthy polls the health endpoint until it answers 200 over TLS that
// verifies against the CA, the process dies, or time runs out.
func (s *NotaryServer) waitHealthy(ctx context.Context, caPEM []byte) error {
	ctx, cancel := context.WithTimeout(ctx, notaryStartTimeout)
	defer cancel()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	health := s.URL + "/_notary_server/health"
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, health, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", health, resp.Status)
		}
		last = err
		select {
		case <-s.done:
			return fmt.Errorf("notary-server exited during start-up (%v)", s.werr)
		case <-ctx.Done():
			return fmt.Errorf("notary-server did not become healthy: %w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends the server by its PID: SIGTERM, then SIGKILL if it has not
// exited within a few seconds. Stopping a stopped server is a no-op.
func (s *NotaryServer) Stop() error {
	if s == nil || s.cmd == nil {
		return nil
	}
	select {
	case <-s.done:
		return nil
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop notary-server (pid %d): %w", s.PID, err)
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(notaryStopTimeout):
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill notary-server (pid %d): %w", s.PID, err)
	}
	<-s.done
	return nil
}

// LogTail returns the last n lines of the server's log, for error reports.
func (s *NotaryServer) LogTail(n int) string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// writeNotaryConfig writes the server configuration: TLS from dir, the
// setup's trust service, storage and authentication.
func writeNotaryConfig(path, dir, addr string, setup notarySetup) error {
	conf := map[string]any{
		"server": map[string]any{
			"http_addr":     addr,
			"tls_cert_file": filepath.Join(dir, "server.crt"),
			"tls_key_file":  filepath.Join(dir, "server.key"),
		},
		"trust_service": setup.trustService,
		"storage":       setup.storage,
		"logging":       map[string]any{"level": "info"},
	}
	if setup.auth != nil {
		conf["auth"] = setup.auth
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// writeServerTLS makes a throwaway CA and a server certificate for
// 127.0.0.1 and localhost, and writes ca.pem, server.crt and server.key
// into dir.
func writeServerTLS(dir string) error {
	ca, err := newTLSCA("ceremony test notary-server CA")
	if err != nil {
		return err
	}
	if err := ca.write(dir, "ca.pem"); err != nil {
		return err
	}
	return ca.issue(dir, "server", "127.0.0.1", x509.ExtKeyUsageServerAuth)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}

// Get fetches a path from the server over its own TLS CA, for tests that
// look at what the server holds (root.json's version, say).
func (s *NotaryServer) Get(ctx context.Context, path string) ([]byte, int, error) {
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, 0, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

// WriteCLIConfig writes a config for the official notary CLI at path that
// knows only this server, its TLS CA and the pinned CA for gun (a GUN or a
// GUN prefix), TOFU off: the independent client that reads what a ceremony
// published. An empty trustDir leaves the CLI's default (or -d) in force.
func (s *NotaryServer) WriteCLIConfig(path, trustDir, gun, pinCA string) error {
	cfg := map[string]any{
		"remote_server": map[string]any{"url": s.URL, "root_ca": s.CAFile},
		"trust_pinning": map[string]any{"ca": map[string]string{gun: pinCA}, "disable_tofu": true},
	}
	if trustDir != "" {
		cfg["trust_dir"] = trustDir
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

package scratch

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// NotarySignerBinary is the signer Debian's `notary` package installs
// beside notary-server.
const NotarySignerBinary = "notary-signer"

// signerAlias names the passphrase that encrypts the signer's keys at rest;
// the signer reads it from NOTARY_SIGNER_<ALIAS>.
const signerAlias = "alias1"

// Production is notary as it is run for real: notary-server with the remote
// trust service, notary-signer behind mutual TLS, both storing in
// PostgreSQL with notary's own migrations, and optionally token
// authentication through a TokenIssuer. One throwaway CA issues every TLS
// certificate. Keys and metadata survive a restart of the services.
type Production struct {
	Server *NotaryServer // what clients talk to: URL, CAFile
	Signer *NotarySigner
	DB     *Postgres
	Tokens *TokenIssuer // nil without token authentication
	Dir    string
}

// ProductionOptions shape the topology.
type ProductionOptions struct {
	// NotaryModule is the notary v0.7.0 module directory holding
	// migrations/; "" asks the go command (NotaryModuleDir).
	NotaryModule string
	// Users turns token authentication on, with these accounts.
	Users []TokenUser
	// Memory leaves PostgreSQL and notary-signer out: memory storage and
	// the local trust service, as StartNotaryServer, behind the token
	// issuer. It starts in about a second, for tests of the token flow.
	Memory bool
}

// NotaryModuleDir is the module cache directory of the notary module this
// module requires: neither Debian package ships notary's SQL migrations,
// the module does.
func NotaryModuleDir(ctx context.Context) (string, error) {
	for _, args := range [][]string{
		{"list", "-m", "-f", "{{.Dir}}", "github.com/theupdateframework/notary"},
		{"mod", "download", "-json", "github.com/theupdateframework/notary"},
	} {
		out, err := exec.CommandContext(ctx, "go", args...).Output()
		if err != nil {
			continue
		}
		dir := strings.TrimSpace(string(out))
		if args[0] == "mod" {
			var m struct{ Dir string }
			if json.Unmarshal(out, &m) != nil {
				continue
			}
			dir = m.Dir
		}
		if dir != "" {
			return dir, nil
		}
	}
	return "", errors.New("cannot find the notary module (for its SQL migrations): run inside this module with the go command on PATH")
}

// StartProduction starts PostgreSQL, notary-signer and notary-server (and
// the token issuer when opt.Users is set) with their files under dir; with
// opt.Memory, notary-server alone (Signer and DB stay nil). Stop ends them
// all.
func StartProduction(ctx context.Context, dir string, opt ProductionOptions) (_ *Production, err error) {
	p := &Production{Dir: dir}
	defer func() {
		if err != nil {
			p.Stop()
			err = fmt.Errorf("start production notary: %w", err)
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, bin := range []string{NotaryServerBinary, NotarySignerBinary} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%w (install Debian's notary package: make deps)", err)
		}
	}
	ca, err := newTLSCA("ceremony test production notary CA")
	if err != nil {
		return nil, err
	}
	if err := writeProductionTLS(ca, dir); err != nil {
		return nil, err
	}
	setup := memorySetup()
	if !opt.Memory {
		if setup, err = p.startStorage(ctx, dir, opt.NotaryModule); err != nil {
			return nil, err
		}
	}
	if len(opt.Users) > 0 {
		if p.Tokens, err = startTokenIssuer(ca, dir, opt.Users); err != nil {
			return nil, err
		}
		setup.auth = map[string]any{"type": "token", "options": map[string]any{
			"realm": p.Tokens.Realm, "service": p.Tokens.Service, "issuer": p.Tokens.Issuer,
			"rootcertbundle": p.Tokens.CertFile,
		}}
	}
	if p.Server, err = startNotary(ctx, dir, setup); err != nil {
		return nil, err
	}
	return p, nil
}

// startStorage starts PostgreSQL with notary's migrations (from the
// module directory mod) and notary-signer, and returns the server's setup
// for them.
func (p *Production) startStorage(ctx context.Context, dir, mod string) (notarySetup, error) {
	var err error
	if mod == "" {
		if mod, err = NotaryModuleDir(ctx); err != nil {
			return notarySetup{}, err
		}
	}
	if p.DB, err = StartPostgres(ctx); err != nil {
		return notarySetup{}, err
	}
	migrations := filepath.Join(mod, "migrations")
	serverDB, err := p.DB.CreateDatabase(ctx, "notaryserver", "server",
		filepath.Join(migrations, "server/postgresql/0001_initial.up.sql"),
		filepath.Join(migrations, "server/postgresql/0002_changefeed.up.sql"))
	if err != nil {
		return notarySetup{}, err
	}
	signerDB, err := p.DB.CreateDatabase(ctx, "notarysigner", "signer",
		filepath.Join(migrations, "signer/postgresql/0001_initial.up.sql"))
	if err != nil {
		return notarySetup{}, err
	}
	if p.Signer, err = startSigner(ctx, dir, signerDB); err != nil {
		return notarySetup{}, err
	}
	return notarySetup{
		trustService: map[string]any{
			"type": "remote", "hostname": "127.0.0.1", "port": p.Signer.port(), "key_algorithm": "ecdsa",
			"tls_ca_file":     filepath.Join(dir, "ca.pem"),
			"tls_client_cert": filepath.Join(dir, "client.crt"), "tls_client_key": filepath.Join(dir, "client.key"),
		},
		storage: map[string]any{"backend": "postgres", "db_url": serverDB},
	}, nil
}

// writeProductionTLS writes the CA (ca.pem), the server's HTTPS certificate
// (server), the signer's gRPC certificate (signer) and the server's client
// certificate towards the signer (client).
func writeProductionTLS(ca *tlsCA, dir string) error {
	if err := ca.write(dir, "ca.pem"); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		eku  x509.ExtKeyUsage
	}{
		{"server", x509.ExtKeyUsageServerAuth},
		{"signer", x509.ExtKeyUsageServerAuth},
		{"client", x509.ExtKeyUsageClientAuth},
	} {
		if err := ca.issue(dir, c.name, "127.0.0.1", c.eku); err != nil {
			return err
		}
	}
	return nil
}

// Restart stops notary-server and notary-signer and starts both again on
// the same addresses: what they keep in PostgreSQL survives (with Memory,
// nothing does).
func (p *Production) Restart(ctx context.Context) error {
	if err := p.Server.Stop(); err != nil {
		return err
	}
	if p.Signer != nil {
		if err := p.Signer.Stop(); err != nil {
			return err
		}
		if err := p.Signer.Start(ctx); err != nil {
			return err
		}
	}
	return p.Server.Restart(ctx)
}

// Stop ends every process by its PID, the server first, and removes the
// database directory. Stopping twice is harmless.
func (p *Production) Stop() error {
	if p == nil {
		return nil
	}
	var errs []error
	if p.Server != nil {
		errs = append(errs, p.Server.Stop())
	}
	if p.Signer != nil {
		errs = append(errs, p.Signer.Stop())
	}
	if p.Tokens != nil {
		p.Tokens.Close()
	}
	errs = append(errs, p.DB.Stop())
	return errors.Join(errs...)
}

// NotarySigner is a running notary-signer: gRPC on 127.0.0.1 with mutual
// TLS, keys in PostgreSQL encrypted under the alias passphrase.
type NotarySigner struct {
	Addr    string // 127.0.0.1:PORT of the gRPC service
	LogFile string
	conf    string
	env     []string // holds the alias passphrase: never logged
	proc    *daemon
}

func startSigner(ctx context.Context, dir, dbURL string) (*NotarySigner, error) {
	pw := make([]byte, 16)
	rand.Read(pw)
	s := &NotarySigner{
		LogFile: filepath.Join(dir, "notary-signer.log"),
		conf:    filepath.Join(dir, "signer.json"),
		env: []string{"PATH=" + os.Getenv("PATH"),
			"NOTARY_SIGNER_" + strings.ToUpper(signerAlias) + "=" + hex.EncodeToString(pw)},
	}
	var lastErr error
	for range 3 { // a free port may be taken before the signer binds it
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		s.Addr = addr
		conf := map[string]any{
			"server": map[string]any{
				"grpc_addr":      addr,
				"tls_cert_file":  filepath.Join(dir, "signer.crt"),
				"tls_key_file":   filepath.Join(dir, "signer.key"),
				"client_ca_file": filepath.Join(dir, "ca.pem"),
			},
			"storage": map[string]any{"backend": "postgres", "db_url": dbURL, "default_alias": signerAlias},
			"logging": map[string]any{"level": "info"},
		}
		b, err := json.MarshalIndent(conf, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(s.conf, b, 0o600); err != nil {
			return nil, err
		}
		if lastErr = s.Start(ctx); lastErr == nil || !strings.Contains(lastErr.Error(), "address already in use") {
			return s, lastErr
		}
	}
	return nil, lastErr
}

func (s *NotarySigner) port() string { return s.Addr[strings.LastIndex(s.Addr, ":")+1:] }

// PID is the signer's process ID, 0 when it is not running.
func (s *NotarySigner) PID() int {
	if s.proc == nil {
		return 0
	}
	select {
	case <-s.proc.done:
		return 0
	default:
		return s.proc.PID
	}
}

// Start (re)starts the signer with its configuration and returns once its
// gRPC port accepts connections.
func (s *NotarySigner) Start(ctx context.Context) error {
	bin, err := exec.LookPath(NotarySignerBinary)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-config", s.conf)
	cmd.Dir = filepath.Dir(s.conf)
	cmd.Env = s.env
	d, err := startDaemon("notary-signer", cmd, s.LogFile, nil)
	if err != nil {
		return err
	}
	s.proc = d
	err = d.waitFor(ctx, func(ctx context.Context) error {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", s.Addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		d.stop(syscall.SIGTERM)
	}
	return err
}

// Stop ends the signer by its PID; a stopped signer stays stopped until
// Start.
func (s *NotarySigner) Stop() error { return s.proc.stop(syscall.SIGTERM) }

// Kill ends the signer with SIGKILL, as a crash would, and reaps it; Start
// brings it back on the same address and database.
func (s *NotarySigner) Kill() error { return s.proc.stop(syscall.SIGKILL) }

package scratch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Postgres is a throwaway PostgreSQL server from Debian's postgresql
// package: its own data directory and unix socket in a temp dir, TCP on
// 127.0.0.1 with password authentication, run as the postgres system user
// when started by root.
type Postgres struct {
	Addr    string // 127.0.0.1:PORT
	Dir     string // data directory, socket and log
	LogFile string

	bin  string // the server's bin directory, /usr/lib/postgresql/N/bin
	cred *syscall.Credential
	proc *daemon
}

// postgresBinDir finds the newest installed server version's bin directory:
// Debian keeps initdb and postgres there, off PATH.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		_, err := os.Stat(filepath.Join(d, "initdb"))
		return err != nil
	})
	if len(dirs) == 0 {
		return "", errors.New("no PostgreSQL server in /usr/lib/postgresql/*/bin (install Debian's postgresql package: make deps)")
	}
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(a) - versionOf(b) })
	return dirs[len(dirs)-1], nil
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// StartPostgres makes a new cluster in a fresh temp dir and starts it on a
// free port of 127.0.0.1. Stop ends it and removes the directory.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serviceUser()
	if err != nil {
		return nil, err
	}
	// Its own temp dir, not one under a test's: the postgres user must be
	// able to reach it, and a test's temp dirs are root's alone.
	dir, err := os.MkdirTemp("", "ceremony-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{Dir: dir, LogFile: filepath.Join(dir, "postgres.log"), bin: bin, cred: cred}
	if err := p.start(ctx); err != nil {
		p.Stop()
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	return p, nil
}

func (p *Postgres) start(ctx context.Context) error {
	if p.cred != nil {
		if err := os.Chown(p.Dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return err
		}
	}
	// Local (socket) connections are trusted: only the owner of the
	// directory can reach the socket. TCP needs a password.
	if out, err := p.run(ctx, nil, "initdb", "-D", p.data(), "-U", "postgres", "-E", "UTF8", "--no-sync",
		"--auth-local=trust", "--auth-host=scram-sha-256"); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	var lastErr error
	for range 3 { // a free port may be taken before postgres binds it
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		p.Addr = addr
		if lastErr = p.launch(ctx); lastErr == nil || !strings.Contains(lastErr.Error(), "already in use") {
			return lastErr
		}
	}
	return lastErr
}

func (p *Postgres) data() string { return filepath.Join(p.Dir, "data") }

func (p *Postgres) port() string { return p.Addr[strings.LastIndex(p.Addr, ":")+1:] }

func (p *Postgres) launch(ctx context.Context) error {
	cmd := exec.Command(filepath.Join(p.bin, "postgres"), "-D", p.data(), "-k", p.Dir, "-p", p.port(),
		"-c", "listen_addresses=127.0.0.1", "-c", "logging_collector=off")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	d, err := startDaemon("postgres", cmd, p.LogFile, p.cred)
	if err != nil {
		return err
	}
	p.proc = d
	err = d.waitFor(ctx, func(ctx context.Context) error {
		_, err := p.run(ctx, nil, "pg_isready", "-q", "-h", p.Dir, "-p", p.port())
		return err
	})
	if err != nil {
		d.stop(syscall.SIGINT)
	}
	return err
}

// run runs one of the server's programs as the server's user, stdin from
// in: SQL holding a password goes through stdin, never argv.
func (p *Postgres) run(ctx context.Context, in []byte, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, prog), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "PGHOST=" + p.Dir}
	if p.Addr != "" {
		cmd.Env = append(cmd.Env, "PGPORT="+p.port())
	}
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(in)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	return cmd.CombinedOutput()
}

// psql runs SQL in database db as role, stopping at the first error.
func (p *Postgres) psql(ctx context.Context, db, role string, sql []byte) error {
	out, err := p.run(ctx, sql, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", role, "-d", db, "-f", "-")
	if err != nil {
		return fmt.Errorf("psql in %s as %s: %w: %s", db, role, err, bytes.TrimSpace(out))
	}
	return nil
}

// CreateDatabase makes a login role with a random password and a database
// it owns, applies the migrations (SQL files, in order) as that role, and
// returns the URL a service connects with (the password inside: write it
// only to a config file, never to argv or a log).
func (p *Postgres) CreateDatabase(ctx context.Context, db, role string, migrations ...string) (string, error) {
	pw := make([]byte, 16)
	rand.Read(pw)
	pass := hex.EncodeToString(pw)
	sql := fmt.Sprintf("CREATE ROLE %q LOGIN PASSWORD '%s';\nCREATE DATABASE %q OWNER %q;\n", role, pass, db, role)
	if err := p.psql(ctx, "postgres", "postgres", []byte(sql)); err != nil {
		return "", fmt.Errorf("create database %s: %w", db, err)
	}
	// One psql for all of them: each start costs a few hundred milliseconds
	// on a loaded machine. ON_ERROR_STOP still stops at the first error.
	var all []byte
	for _, m := range migrations {
		b, err := os.ReadFile(m)
		if err != nil {
			return "", fmt.Errorf("migration: %w", err)
		}
		all = append(append(all, b...), '\n')
	}
	if err := p.psql(ctx, db, role, all); err != nil {
		return "", fmt.Errorf("migrations %s: %w", strings.Join(migrations, ", "), err)
	}
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", role, pass, p.Addr, db), nil
}

// PID is the server's process ID, 0 when it is not running.
func (p *Postgres) PID() int {
	if p.proc == nil {
		return 0
	}
	select {
	case <-p.proc.done:
		return 0
	default:
		return p.proc.PID
	}
}

// Halt stops the server by its PID (a fast shutdown: SIGINT) and keeps its
// data: a database outage. Start brings it back.
func (p *Postgres) Halt() error { return p.proc.stop(syscall.SIGINT) }

// Start starts a halted server again, on its address with its data.
func (p *Postgres) Start(ctx context.Context) error {
	if err := p.launch(ctx); err != nil {
		return fmt.Errorf("start PostgreSQL again: %w", err)
	}
	return nil
}

// Crash ends the server the way a crash does, by its PID: SIGQUIT, the
// immediate shutdown, which PostgreSQL documents as its own crash (no
// checkpoint; the next start replays the WAL). Not SIGKILL: that ends the
// postmaster alone, its backends live on holding the shared memory, and a
// start on the data directory refuses until they are gone. Start brings it
// back on its address with its data.
func (p *Postgres) Crash() error { return p.proc.stop(syscall.SIGQUIT) }

// Stop ends the server by its PID (a fast shutdown: SIGINT) and removes its
// directory.
func (p *Postgres) Stop() error {
	if p == nil {
		return nil
	}
	err := p.proc.stop(syscall.SIGINT)
	if rmErr := os.RemoveAll(p.Dir); err == nil {
		err = rmErr
	}
	return err
}

package steps_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/scratch"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/trust"
)

// The production fault test's accounts: the ceremony's owner rotates
// keys, the delegate publishes its tags.
var prodAccounts = testenv.TokenAccounts()

// prodVictim is a service of the production topology that a test kills
// the way a crash does in the middle of a publish, and restarts on the
// same address and PostgreSQL data.
type prodVictim struct {
	name string
	// behind: the service is behind notary-server (notary-signer,
	// PostgreSQL): the client's connection stays up and the server
	// answers for it.
	behind  bool
	kill    func() error
	restart func(context.Context) error
}

// prodFaults is one production topology (notary-server, notary-signer,
// PostgreSQL, the token issuer) shared by a test's cases, which run one at
// a time since each kills a service they all use.
type prodFaults struct {
	prod    *scratch.Production
	auth    string // notary.auth of the owner: file:PATH
	pub     string // the delegate's public key file, for delegations
	key     string // the delegate's private key, unencrypted PKCS#8 for the notary CLI
	victims []prodVictim
	gun     atomic.Int64
}

func startProdFaults(t *testing.T) *prodFaults {
	t.Helper()
	testenv.Tool(t, scratch.NotaryServerBinary)
	testenv.Tool(t, scratch.NotarySignerBinary)
	start := time.Now()
	prod, err := scratch.StartProduction(context.Background(), t.TempDir(), scratch.ProductionOptions{Users: prodAccounts.List()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			signer, _ := os.ReadFile(prod.Signer.LogFile)
			t.Logf("notary-server log:\n%s\nnotary-signer log ends:\n%s", prod.Server.LogTail(15), signer[max(0, len(signer)-3000):])
		}
		if err := prod.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Logf("production notary up in %v", time.Since(start).Round(time.Millisecond))
	dir := t.TempDir()
	f := &prodFaults{prod: prod, auth: "file:" + filepath.Join(dir, "owner.auth"), pub: filepath.Join(dir, "me.pub"), key: filepath.Join(dir, "me.key")}
	priv, pub, err := trust.GenerateDelegateKey("targets/me", []byte("delegate-pass"))
	if err != nil {
		t.Fatal(err)
	}
	// The notary CLI imports only an unencrypted key without a role header.
	k, err := utils.ParsePEMPrivateKey(priv, "delegate-pass")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := utils.ConvertPrivateKeyToPKCS8(k, "targets/me", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range map[string][]byte{strings.TrimPrefix(f.auth, "file:"): []byte(prodAccounts.Owner.NotaryAuth()), f.pub: pub, f.key: plain} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.victims = []prodVictim{
		{name: "notary-server", kill: prod.Server.Kill, restart: prod.Server.Restart},
		{name: "notary-signer", behind: true, kill: prod.Signer.Kill, restart: func(ctx context.Context) error {
			if err := prod.Signer.Start(ctx); err != nil {
				return err
			}
			if err := f.signerBack(ctx); err != nil {
				return err
			}
			// Its health, re-checked every 10 s, may still report the
			// signer down: preflight would refuse the rerun, rightly.
			return waitHealthy(ctx, prod.Server)
		}},
		// PostgreSQL crashes (an immediate shutdown, PostgreSQL's own
		// crash) under both services, which must reconnect by themselves.
		{name: "postgres", behind: true, kill: prod.DB.Crash, restart: func(ctx context.Context) error {
			if err := prod.DB.Start(ctx); err != nil {
				return err
			}
			// A key request reaches both databases: the server's (is
			// there a key?) and the signer's (a new one).
			if err := f.signerBack(ctx); err != nil {
				return err
			}
			return waitHealthy(ctx, prod.Server)
		}},
	}
	return f
}

// ceremony is serverCeremony on the production server: the owner's
// credentials, the delegate's key, the server reached through url.
func (f *prodFaults) ceremony(t *testing.T, url string, tok testenv.Token) *config.Config {
	t.Helper()
	gun := fmt.Sprintf("docker.io/prodfaults/r%d", f.gun.Add(1))
	return load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: f.prod.Server, URL: url, Auth: f.auth,
		Delegations: []testenv.Delegation{{Cert: f.pub}}})
}

// waitHealthy polls notary-server's health until it answers 200.
func waitHealthy(ctx context.Context, s *testenv.NotaryServer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, code, err := s.Get(ctx, "/_notary_server/health")
		if err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("notary-server is not healthy again: %d, %v", code, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// signerBack waits until notary-server reaches its restarted signer: its
// gRPC connection comes back after a backoff of a few seconds, and its
// health endpoint, re-checked every 10 s, may still say 200 from before
// the kill. A key request is what needs the signer: the server asks it for
// the timestamp key of a repository it has no root of (a throwaway key of
// a repository no case uses).
func (f *prodFaults) signerBack(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	r := tokenReader{srv: f.prod.Server, tokens: f.prod.Tokens, user: prodAccounts.Owner}
	for {
		body, code, err := r.Get(ctx, "/v2/docker.io/prodfaults/probe/_trust/tuf/timestamp.key")
		if err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("notary-server does not reach its restarted signer: %d, %v %s", code, err, body)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// afterPublish, as the point where a case kills, is the hook point right
// after the step's publish was answered, before the step is recorded.
const afterPublish = -1

// TestProductionServerDies is TestNotaryServerDies on notary as it is
// deployed: notary-server with notary-signer and PostgreSQL behind token
// authentication. In the middle of each publishing step (notary init, the
// snapshot key's rotation, the delegation), at a chunk of what the client
// sends or at the step's after-publish hook point, notary-server or
// notary-signer is killed with SIGKILL, or PostgreSQL crashes (an
// immediate shutdown), and the victim restarts on the same address and
// data; the services left running must reconnect by themselves. The run must stop with one line naming the step, the
// journal must hold, and the rerun must finish with one key per label, a
// transcript that verifies and each publication made once; the notary CLI
// then reads the repository, its delegation and a tag the delegate signs.
// make test runs four cases, one per victim and one after-publish;
// -faults.full (make faults) every chunk of every step for each victim.
func TestProductionServerDies(t *testing.T) {
	t.Parallel()
	f := startProdFaults(t)
	target := strings.TrimPrefix(f.prod.Server.URL, "https://")
	p := newCutProxy(t, target, nil)
	cfg := f.ceremony(t, p.URL(), testenv.NewToken(t))
	sent := recordSent(t, cfg, p)
	ids := publishing(cfg)
	type kill struct {
		victim, step int
		at           int64 // client bytes into the step, or afterPublish
	}
	mid := func(step int) int64 { e := sent[ids[step]]; return e[len(e)/2] }
	cases := []kill{{0, 0, mid(0)}, {1, 1, mid(1)}, {0, 1, afterPublish}, {2, 2, mid(2)}}
	if *faultsFull {
		cases = nil
		for i, id := range ids {
			for v := range f.victims {
				cases = append(cases, kill{v, i, 0}, kill{v, i, afterPublish})
				for _, end := range sent[id] {
					cases = append(cases, kill{v, i, end})
				}
			}
		}
	}
	for _, id := range ids {
		t.Logf("step %s: the client sends %d chunks, ending at %v", id, len(sent[id]), sent[id])
	}
	for _, k := range cases {
		v := f.victims[k.victim]
		at := fmt.Sprint(k.at)
		if k.at == afterPublish {
			at = "after-publish"
		}
		t.Run(fmt.Sprintf("%s-%s-%s", v.name, strings.SplitN(string(ids[k.step]), ":", 2)[0], at), func(t *testing.T) {
			tok := testenv.NewToken(t)
			var killed atomic.Bool // set on the proxy's goroutine
			p := newCutProxy(t, target, func() {
				killed.Store(true)
				if err := v.kill(); err != nil {
					t.Error(err)
				}
			})
			p.behind = v.behind
			cfg := f.ceremony(t, p.URL(), tok)
			step := publishing(cfg)[k.step]
			var err error
			if k.at == afterPublish {
				err = steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test", Hook: func(point string) {
					if point == string(step)+":after-publish" {
						p.arm(0)
					}
				}})
			} else {
				err = runCutting(cfg, p, step, k.at)
			}
			if !killed.Load() {
				t.Fatalf("%s was not killed: the run ended with %v", v.name, err)
			}
			if err != nil && !saysWhatToDo(err) {
				t.Errorf("the error does not say what to do: %v", err)
			}
			srv := tokenReader{srv: f.prod.Server, tokens: f.prod.Tokens, user: prodAccounts.Owner}
			checkFailed(t, cfg, tok, srv, err, func() {
				if err := v.restart(context.Background()); err != nil {
					t.Fatalf("restart %s: %v", v.name, err)
				}
				p.restore()
			})
			f.cliReads(t, cfg)
		})
	}
}

// saysWhatToDo: an error of a run that met a dying service names the fix
// (trust's lostError, reachError, health).
func saysWhatToDo(err error) bool {
	for _, hint := range []string{"run again", "a re-run resumes", "is unreachable", "is not healthy"} {
		if strings.Contains(err.Error(), hint) {
			return true
		}
	}
	return false
}

// cliReads has the notary CLI, knowing the server, its TLS CA and the
// ceremony's CA only, find the delegation, publish a tag as the delegate
// and read it back: the repository works on the restarted services.
func (f *prodFaults) cliReads(t *testing.T, cfg *config.Config) {
	t.Helper()
	gun := cfg.Repositories[0].GUN
	cli := testenv.NotaryCLI(t, f.prod.Server, filepath.Join(cfg.OutputDir(), steps.CAFile), gun,
		"NOTARY_AUTH="+prodAccounts.Delegate.NotaryAuth(), "NOTARY_DELEGATION_PASSPHRASE=delegate-pass")
	if out := cli("-s", f.prod.Server.URL, "delegation", "list", gun); !strings.Contains(out, "targets/me") {
		t.Fatalf("notary delegation list:\n%s", out)
	}
	if out := cli("-s", f.prod.Server.URL, "list", gun); !strings.Contains(out, "No targets present") {
		t.Fatalf("notary list before the delegate's tag:\n%s", out)
	}
	cli("key", "import", f.key)
	const digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cli("-s", f.prod.Server.URL, "addhash", gun, "v1", "1234", "--sha256", digest, "-r", "targets/me", "-p")
	out := cli("-s", f.prod.Server.URL, "lookup", gun, "v1")
	if want := "v1 sha256:" + digest + " 1234"; strings.TrimSpace(out) != want {
		t.Fatalf("notary lookup = %q, want %q", strings.TrimSpace(out), want)
	}
	if out := cli("-s", f.prod.Server.URL, "list", gun); !strings.Contains(out, digest) || !strings.Contains(out, "targets/me") {
		t.Fatalf("notary list:\n%s", out)
	}
}

// tokenReader reads a server behind token authentication as user: a token
// for the path's repository (pull) from the issuer, then the path.
type tokenReader struct {
	srv    *testenv.NotaryServer
	tokens *scratch.TokenIssuer
	user   scratch.TokenUser
}

func (r tokenReader) Get(ctx context.Context, path string) ([]byte, int, error) {
	gun, _, _ := strings.Cut(strings.TrimPrefix(path, "/v2/"), "/_trust/")
	ca, err := os.ReadFile(r.srv.CAFile) // the issuer's TLS certificate is from the same CA
	if err != nil {
		return nil, 0, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	actions := "pull"
	if strings.HasSuffix(path, ".key") { // the server's key of a role: push and pull
		actions = "push,pull"
	}
	q := url.Values{"service": {r.tokens.Service}, "scope": {"repository:" + gun + ":" + actions}}
	body, code, err := get(ctx, hc, r.tokens.Realm+"?"+q.Encode(), func(req *http.Request) { req.SetBasicAuth(r.user.Name, r.user.Password) })
	if err != nil || code != http.StatusOK {
		return nil, code, fmt.Errorf("token for %s: %d %v", gun, code, err)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal(body, &tok); err != nil {
		return nil, 0, err
	}
	return get(ctx, hc, r.srv.URL+path, func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+tok.Token) })
}

func get(ctx context.Context, hc *http.Client, u string, prepare func(*http.Request)) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	prepare(req)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp.StatusCode, err
}

package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/theupdateframework/notary/trustpinning"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"
)

// TestRunWithNotary runs the whole owner side (steps 0–6) against the real
// notary-server, then has the Debian notary CLI read what was published.
func TestRunWithNotary(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	tok := testenv.NewToken(t)
	gun := "docker.io/alice/nginx"
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{}}})
	events, err := run(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	finished := stepIDs(events, steps.StepFinished)
	want := "preflight ca transcript-key root repo:" + gun + " notary-init:" + gun + " snapshot:" + gun + " delegation:" + gun + ":targets/me"
	if strings.Join(finished, " ") != want {
		t.Fatalf("finished %q\nwant %q", strings.Join(finished, " "), want)
	}

	// The transcript names the root key ID that the repository certificate
	// certifies, as root.json does.
	repo := readCert(t, filepath.Join(cfg.OutputDir(), steps.RepoBase(gun)+".pem"))
	entries, err := transcript.Read(filepath.Join(cfg.OutputDir(), transcript.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var initFacts struct {
		Notary struct{ RootKeyIDs []string }
	}
	for _, e := range entries {
		if e.Step != nil && e.Step.ID == "notary-init:"+gun && e.Kind == transcript.KindStep {
			json.Unmarshal(e.Results, &initFacts)
		}
	}
	if len(initFacts.Notary.RootKeyIDs) != 1 || initFacts.Notary.RootKeyIDs[0] != utils.CertToKey(repo).ID() {
		t.Fatalf("root key IDs %v, the repository certificate's is %s", initFacts.Notary.RootKeyIDs, utils.CertToKey(repo).ID())
	}

	// The official CLI, configured with the server, its CA and the pinned
	// ceremony CA only, sees the repository and the delegation.
	cli := cliSeesDelegation(t, srv, cfg, gun)
	if out := cli("list", gun); !strings.Contains(out, "No targets present") {
		t.Fatalf("notary list:\n%s", out)
	}
}

// cliSeesDelegation has the official notary CLI, knowing only the server,
// its TLS CA and the ceremony's CA, list gun's delegations: targets/me must be
// there with all paths. It returns the CLI runner for further checks.
func cliSeesDelegation(t *testing.T, srv *testenv.NotaryServer, cfg *config.Config, gun string) func(...string) string {
	t.Helper()
	cli := testenv.NotaryCLI(t, srv, filepath.Join(cfg.OutputDir(), steps.CAFile), gun)
	if out := cli("delegation", "list", gun); !strings.Contains(out, "targets/me") || !strings.Contains(out, "<all paths>") {
		t.Fatalf("notary delegation list:\n%s", out)
	}
	return cli
}

// TestPreflightServerDown: an unreachable server is found before any key is
// made, together with the other problems.
func TestPreflightServerDown(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	tok := testenv.NewToken(t)
	gun := "docker.io/a/b"
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, URL: "https://127.0.0.1:1", Delegations: []testenv.Delegation{{}}})
	preflightRefuses(t, tok, cfg, "https://127.0.0.1:1 is unreachable")
	if _, err := os.Stat(cfg.OutputDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("preflight created the output directory")
	}
}

// switchProxy forwards TCP to target while up, and drops connections while
// down: a notary server that goes away in the middle of a ceremony.
type switchProxy struct {
	ln   net.Listener
	up   atomic.Bool
	addr string
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, addr: ln.Addr().String()}
	p.up.Store(true)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.up.Load() {
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

// TestResumeAfterServerOutage: the server disappears after the certificates
// are made; notary init fails with one clear line and publishes nothing; the
// same command later resumes at notary init and finishes.
func TestResumeAfterServerOutage(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	proxy := newSwitchProxy(t, strings.TrimPrefix(srv.URL, "https://"))
	tok := testenv.NewToken(t)
	gun := "docker.io/a/b"
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, URL: "https://" + proxy.addr, Delegations: []testenv.Delegation{{}}})
	err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Hook: func(p string) {
		if p == "repo:"+gun+":after-record" {
			proxy.up.Store(false)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "step notary-init:"+gun) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("init with the server gone: %v", err)
	}
	if strings.Count(err.Error(), "\n") != 0 {
		t.Fatalf("not one line: %q", err)
	}
	if _, status, gerr := srv.Get(context.Background(), "/v2/"+gun+"/_trust/tuf/root.json"); gerr != nil || status != 404 {
		t.Fatalf("the server has root.json after a failed init: status %d %v", status, gerr)
	}
	proxy.up.Store(true)
	events, err := run(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	finished := stepIDs(events, steps.StepFinished)
	if got := strings.Join(finished, " "); got != "preflight notary-init:"+gun+" snapshot:"+gun+" delegation:"+gun+":targets/me" {
		t.Fatalf("resumed run finished %q", got)
	}
	if got := countClasses(listToken(t, tok)); got != threePairs {
		t.Fatalf("token objects: %s", got)
	}
}

// TestRunWithTokenTargetsKey: with notary.targets_key the targets key is made
// in the token too; no targets key file is ever written and the delegation
// (which re-signs targets) is published with the token key.
func TestRunWithTokenTargetsKey(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	tok := testenv.NewToken(t)
	gun := "docker.io/alice/tokentargets"
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, TargetsKey: "{label: targets, key: ecdsa-p256}", Delegations: []testenv.Delegation{{}}})
	if _, err := run(t, cfg); err != nil {
		t.Fatal(err)
	}
	if got := countClasses(listToken(t, tok)); got != "ca: private-key public-key certificate; root: private-key public-key certificate; targets: private-key public-key; transcript: private-key public-key certificate" {
		t.Fatalf("token objects: %s", got)
	}
	// The snapshot key file was made at init and retired at the rotation;
	// no targets key file was ever made.
	keys, err := filepath.Glob(filepath.Join(cfg.Path(cfg.Notary.TrustDir), "private", "*.key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		b, _ := os.ReadFile(k)
		if strings.Contains(string(b), "role: targets") {
			t.Fatalf("a targets key file was written: %s", k)
		}
	}
	cliSeesDelegation(t, srv, cfg, gun)
}

// TestTranscriptRootJSON: the root.json each Notary step published is in the
// transcript, and notary's own root validation accepts it offline, pinned to
// the ceremony CA alone: what an auditor will replay.
func TestTranscriptRootJSON(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	tok := testenv.NewToken(t)
	gun := "docker.io/alice/audit"
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{}}})
	if _, err := run(t, cfg); err != nil {
		t.Fatal(err)
	}
	entries, err := transcript.Read(filepath.Join(cfg.OutputDir(), transcript.FileName))
	if err != nil {
		t.Fatal(err)
	}
	pin := trustpinning.TrustPinConfig{CA: map[string]string{gun: filepath.Join(cfg.OutputDir(), "ca.pem")}, DisableTOFU: true}
	versions := []int{}
	for _, e := range entries {
		for _, s := range e.Subjects {
			if s.Name != "notary/"+gun+"/root.json" {
				continue
			}
			var signed data.Signed
			if err := json.Unmarshal(s.Content, &signed); err != nil {
				t.Fatal(err)
			}
			root, err := data.RootFromSigned(&signed)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := trustpinning.ValidateRoot(nil, &signed, data.GUN(gun), pin); err != nil {
				t.Fatalf("notary rejects the transcript's root.json v%d: %v", root.Signed.Version, err)
			}
			versions = append(versions, root.Signed.Version)
		}
	}
	if fmt.Sprint(versions) != "[1 2]" {
		t.Fatalf("root.json versions in the transcript: %v", versions)
	}
}

// TestPreflightBadDelegateKey: an unparsable delegate certificate is found in
// preflight, before any key is made.
func TestPreflightBadDelegateKey(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	tok := testenv.NewToken(t)
	gun := "docker.io/a/b"
	certPath := filepath.Join(t.TempDir(), "me.pub")
	os.WriteFile(certPath, []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"), 0o644)
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{Cert: certPath}}})
	preflightRefuses(t, tok, cfg, "delegations[0].cert")
}

// TestPreflightGUNTaken: a repository that already has trust data on the
// server is found in preflight, before a second root key is made for it.
func TestPreflightGUNTaken(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	gun := "docker.io/alice/taken"
	first := load(t, testenv.Ceremony{Token: testenv.NewToken(t), GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{}}})
	if _, err := run(t, first); err != nil {
		t.Fatal(err)
	}
	tok := testenv.NewToken(t)
	second := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{}}})
	preflightRefuses(t, tok, second, "already has trust data")
}

// TestRunKeyTypes runs the whole owner side with other key types than P-256:
// an RSA CA over a P-384 root key, and a P-384 CA over an RSA root key (whose
// root.json signatures are RSA-PSS made in the token).
func TestRunKeyTypes(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	for _, tc := range []struct{ ca, root string }{{"rsa-3072", "ecdsa-p384"}, {"ecdsa-p384", "rsa-2048"}} {
		t.Run(tc.ca+"/"+tc.root, func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			gun := "docker.io/keytypes/" + strings.ReplaceAll(tc.ca+"-"+tc.root, "ecdsa-", "")
			extra := fmt.Sprintf("ca: {key: %s}\nroot: {key: %s}\n", tc.ca, tc.root)
			cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{}}, Extra: extra})
			if _, err := run(t, cfg); err != nil {
				t.Fatal(err)
			}
			repoPath := filepath.Join(cfg.OutputDir(), steps.RepoBase(gun)+".pem")
			testenv.OpenSSL(t, "verify", "-CAfile", filepath.Join(cfg.OutputDir(), "ca.pem"), repoPath)
			cliSeesDelegation(t, srv, cfg, gun)
		})
	}
}

// TestPreflightTrustDir: a trust_dir that cannot be made is found before any
// key is, and a stale temporary journal (a crash before the header was in
// place) does not make the output directory unusable.
func TestPreflightTrustDir(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	tok := testenv.NewToken(t)
	gun := "docker.io/a/trustdir"
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("x"), 0o600)
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, TrustDir: filepath.Join(blocker, "trust"), Delegations: []testenv.Delegation{{}}})
	os.MkdirAll(cfg.OutputDir(), 0o755)
	os.WriteFile(filepath.Join(cfg.OutputDir(), ".tmp-transcript.intoto.jsonl-123"), []byte("{"), 0o600)
	if pe := preflightRefuses(t, tok, cfg, "notary.trust_dir"); len(pe.Problems) != 1 {
		t.Fatalf("the stale temporary journal counted as a problem too: %v", pe)
	}
}

// TestResumeWrongPassphrase: a ceremony stopped after notary init is resumed
// with another targets passphrase: preflight finds that it opens none of the
// targets key files, before anything is published.
func TestResumeWrongPassphrase(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	tok := testenv.NewToken(t)
	gun := "docker.io/alice/passphrase"
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{}}})
	runUntil(t, cfg, "notary-init:"+gun+":after-record")
	targetsFile := strings.TrimPrefix(cfg.Notary.TargetsPassphrase, "file:")
	os.WriteFile(targetsFile, []byte("another-passphrase"), 0o600)
	_, err := run(t, cfg)
	var pe *steps.ProblemsError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "the targets passphrase opens none") {
		t.Fatalf("resume with another targets passphrase: %v", err)
	}
	raw, _, _ := srv.Get(context.Background(), "/v2/"+gun+"/_trust/tuf/root.json")
	var root struct{ Signed struct{ Version int } }
	if json.Unmarshal(raw, &root); root.Signed.Version != 1 {
		t.Fatalf("root.json v%d: something was published", root.Signed.Version)
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/scratch"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/trust"
	"github.com/theupdateframework/notary/tuf/utils"
)

// The token issuer's accounts: the owner may rotate keys, the delegate
// publishes, the reader only reads.
var accounts = testenv.TokenAccounts()

// TestProduction runs the ceremony and the delegate's commands against
// notary as it is deployed: notary-server with the remote trust service,
// notary-signer over mutual TLS, PostgreSQL with notary's own migrations,
// and token authentication through a registry-spec token issuer. The
// topology is started once for the whole test (initdb is the slow part);
// the steps run in order because the later ones restart or stop services.
func TestProduction(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, scratch.NotaryServerBinary)
	testenv.Tool(t, scratch.NotarySignerBinary)
	ctx := context.Background()
	start := time.Now()
	prod, err := scratch.StartProduction(ctx, t.TempDir(), scratch.ProductionOptions{Users: accounts.List()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("notary-server log:\n%s\nnotary-signer log:\n%s", prod.Server.LogTail(15), tailFile(prod.Signer.LogFile, 15))
		}
		if err := prod.Stop(); err != nil {
			t.Error(err)
		}
	})
	t.Logf("production notary up in %v (server pid %d, signer pid %d)", time.Since(start).Round(time.Millisecond), prod.Server.PID, prod.Signer.PID())

	const gun = "docker.io/alice/prod"
	reg := testenv.RegistryT(t)
	img, err := reg.PushRandomImage(ctx, "alice/prod", "latest")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub, err := trust.GenerateDelegateKey("targets/me", []byte("delegate-pass"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile, pubFile, passFile := filepath.Join(dir, "me.key"), filepath.Join(dir, "me.pub"), filepath.Join(dir, "me.pass")
	for f, b := range map[string][]byte{keyFile: priv, pubFile: pub, passFile: []byte("delegate-pass\n")} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"CEREMONY_TEST_OWNER_AUTH=" + accounts.Owner.NotaryAuth(),
		"CEREMONY_TEST_DELEGATE_AUTH=" + accounts.Delegate.NotaryAuth(),
		"CEREMONY_TEST_WRONG_AUTH=" + scratch.TokenUser{Name: accounts.Delegate.Name, Password: "not-the-password"}.NotaryAuth(),
		"CEREMONY_TEST_READER_AUTH=" + accounts.Reader.NotaryAuth(),
		"CEREMONY_TEST_BAD_AUTH=delegate:not-base64",
	}
	secrets := []string{accounts.Owner.Password, accounts.Delegate.Password, accounts.Reader.Password, "not-the-password", "delegate-pass"}
	for _, e := range env {
		secrets = append(secrets, e[strings.Index(e, "=")+1:])
	}
	noSecret := func(t *testing.T, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("a secret (%.6s...) shows in the output:\n%s", s, out)
			}
		}
	}

	// The owner's whole ceremony, through the token issuer as the owner.
	cfg := testenv.Ceremony{Token: testenv.NewToken(t), GUNs: []string{gun}, Notary: prod.Server, Auth: "env:CEREMONY_TEST_OWNER_AUTH",
		Delegations: []testenv.Delegation{{Role: "targets/me", Cert: pubFile}}}.Write(t)
	if r := ceremony(t, env, "run", "--config", cfg, "--non-interactive"); r.code != 0 {
		t.Fatalf("ceremony run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	} else {
		noSecret(t, r.stdout+r.stderr)
	}
	if prod.Tokens.Requests(accounts.Owner.Name) == 0 {
		t.Fatal("the ceremony published without asking the token issuer")
	}
	caFile := filepath.Join(filepath.Dir(cfg), "out", "ca.pem")
	common := []string{"--config", cfg, "--trust-dir", filepath.Join(dir, "delegate-trust"), "--gun", gun}
	validate := func(t *testing.T, tag string) {
		t.Helper()
		r := ceremony(t, env, append([]string{"validate", "--tag", tag, "--image", img.Ref, "--auth", "env:CEREMONY_TEST_DELEGATE_AUTH"}, common...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "valid: "+gun+" "+tag+" is "+img.Digest) {
			t.Fatalf("validate %s: exit %d\n%s%s", tag, r.code, r.stdout, r.stderr)
		}
	}

	t.Run("sign and validate with --auth", func(t *testing.T) {
		r := ceremony(t, env, append([]string{"sign", "--tag", "latest", "--image", img.Ref, "--role", "targets/me",
			"--key", keyFile, "--key-passphrase", "file:" + passFile, "--auth", "env:CEREMONY_TEST_DELEGATE_AUTH"}, common...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "signed and published "+gun+":latest "+img.Digest) {
			t.Fatalf("sign: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		noSecret(t, r.stdout+r.stderr)
		validate(t, "latest")
		// Reading needs only pull: the reader's account validates.
		r = ceremony(t, env, append([]string{"validate", "--tag", "latest", "--image", img.Ref, "--auth", "env:CEREMONY_TEST_READER_AUTH"}, common...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "valid: "+gun+" latest is "+img.Digest) {
			t.Fatalf("validate with a pull-only account: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	// The notary CLI publishes through the same issuer with NOTARY_AUTH:
	// the delegate's key imported, a target added to targets/me.
	t.Run("notary CLI with NOTARY_AUTH", func(t *testing.T) {
		before := prod.Tokens.Requests(accounts.Delegate.Name)
		cli := testenv.NotaryCLI(t, prod.Server, caFile, gun,
			"NOTARY_AUTH="+accounts.Delegate.NotaryAuth(), "NOTARY_DELEGATION_PASSPHRASE=delegate-pass")
		// The CLI imports only an unencrypted key without a path header;
		// it encrypts it under NOTARY_DELEGATION_PASSPHRASE.
		k, err := utils.ParsePEMPrivateKey(priv, "delegate-pass")
		if err != nil {
			t.Fatal(err)
		}
		plain, err := utils.ConvertPrivateKeyToPKCS8(k, "targets/me", "", "")
		if err != nil {
			t.Fatal(err)
		}
		plainFile := filepath.Join(t.TempDir(), "me.key")
		if err := os.WriteFile(plainFile, plain, 0o600); err != nil {
			t.Fatal(err)
		}
		cli("key", "import", plainFile)
		cli("addhash", gun, "cli", fmt.Sprint(img.Size), "--sha256", strings.TrimPrefix(img.Digest, "sha256:"), "-r", "targets/me", "-p")
		if prod.Tokens.Requests(accounts.Delegate.Name) == before {
			t.Fatal("the notary CLI published without asking the token issuer")
		}
		validate(t, "cli")
	})

	t.Run("refused credentials", func(t *testing.T) {
		byFlags := []string{"--server", prod.Server.URL, "--tls-ca", prod.Server.CAFile, "--ca", caFile, "--trust-dir", filepath.Join(dir, "delegate-trust"), "--gun", gun}
		signArgs := slices.Concat([]string{"sign", "--tag", "x", "--image", img.Ref, "--role", "targets/me", "--key", keyFile, "--key-passphrase", "file:" + passFile}, common)
		for _, tc := range []struct {
			name    string
			args    []string
			want    string
			refused int // token requests refused for bad credentials
		}{
			{"wrong password", slices.Concat(signArgs, []string{"--auth", "env:CEREMONY_TEST_WRONG_AUTH"}), "refused the credentials (unauthorized: incorrect username or password)", 1},
			{"not base64", slices.Concat(signArgs, []string{"--auth", "env:CEREMONY_TEST_BAD_AUTH"}), "notary auth is not base64", 0},
			{"literal credentials", slices.Concat(signArgs, []string{"--auth", scratch.TokenUser{Name: "delegate", Password: "x"}.NotaryAuth()}), "--auth: secret source: use env:NAME, file:PATH or prompt", 0},
			{"reader may not publish", slices.Concat(signArgs, []string{"--auth", "env:CEREMONY_TEST_READER_AUTH"}),
				`the account "reader" may not publish to ` + gun + ` (granted: pull); --auth (or notary.auth of --config) needs push,pull on it`, 0},
			// The token server is asked before the key's passphrase is
			// read or the registry asked: an unset passphrase source or an
			// absent tag would each be a different error.
			{"refused before the passphrase or the registry", slices.Concat(signArgs, []string{"--auth", "env:CEREMONY_TEST_READER_AUTH",
				"--key-passphrase", "env:CEREMONY_TEST_UNSET_PASS", "--image", img.Ref + "-absent"}),
				`the account "reader" may not publish to ` + gun + ` (granted: pull)`, 0},
			// The config's notary.auth is the owner's: name the server by flags.
			{"no credentials to publish", slices.Concat(signArgs[:len(signArgs)-len(common)], byFlags), "requires authentication to publish: give notary.auth (or --auth)", 0},
			{"anonymous read refused", slices.Concat([]string{"validate", "--tag", "latest", "--image", img.Ref}, byFlags), "server returned 401. The token server gave no access for this", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := prod.Tokens.Requests("!")
				r := ceremony(t, env, tc.args...)
				lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
				if r.code == 0 || len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
					t.Fatalf("exit %d, stderr %q; want one line with %q", r.code, r.stderr, tc.want)
				}
				t.Log(r.stderr)
				noSecret(t, r.stdout+r.stderr)
				if got := prod.Tokens.Requests("!") - before; got != tc.refused {
					t.Errorf("the token issuer refused %d requests, want %d: refused credentials must not be tried again", got, tc.refused)
				}
			})
		}
	})

	// With PostgreSQL down, preflight refuses in one line before any key
	// is made (notary-server notices within its 10 s health period). The
	// database comes back on the same address with its data, and the
	// restart below signs and reads through it again.
	t.Run("database down", func(t *testing.T) {
		pid := prod.DB.PID()
		if err := prod.DB.Halt(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := prod.DB.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Logf("PostgreSQL pid %d stopped, pid %d started", pid, prod.DB.PID())
		})
		waitHealth(t, prod.Server, 503)
		refusedBeforeKeys(t, prod, env, "env:CEREMONY_TEST_OWNER_AUTH",
			"preflight: notary server "+prod.Server.URL+" is not healthy (503 Service Unavailable): its database (DB operational): ")
	})

	// Keys (the server's timestamp and snapshot keys in the signer's
	// database) and metadata survive a restart of both services.
	t.Run("restart", func(t *testing.T) {
		oldServer, oldSigner := prod.Server.PID, prod.Signer.PID()
		if err := prod.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		if prod.Server.PID == oldServer || prod.Signer.PID() == oldSigner {
			t.Fatal("the services were not restarted")
		}
		validate(t, "latest")
		validate(t, "cli")
		// A new publication needs the server's snapshot and timestamp keys,
		// which the restarted signer decrypts from its database.
		r := ceremony(t, env, append([]string{"sign", "--tag", "after-restart", "--image", img.Ref, "--role", "targets/me",
			"--key", keyFile, "--key-passphrase", "file:" + passFile, "--auth", "env:CEREMONY_TEST_DELEGATE_AUTH"}, common...)...)
		if r.code != 0 {
			t.Fatalf("sign after the restart: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		validate(t, "after-restart")
		out := testenv.NotaryCLI(t, prod.Server, caFile, gun, "NOTARY_AUTH="+accounts.Delegate.NotaryAuth())("lookup", gun, "latest")
		if want := fmt.Sprintf("latest %s %d", img.Digest, img.Size); strings.TrimSpace(out) != want {
			t.Fatalf("notary lookup after the restart = %q, want %q", strings.TrimSpace(out), want)
		}
	})

	// Preflight asks for a token with the scope of every repository the
	// ceremony publishes: wrong credentials, or an account that may not do
	// what a step will do, stop the ceremony in one line before any key is
	// made, after at most a single refused request.
	t.Run("ceremony refused by the token server", func(t *testing.T) {
		for _, tc := range []struct{ name, auth, want string }{
			{"wrong password", "env:CEREMONY_TEST_WRONG_AUTH",
				"preflight: the token server of " + prod.Server.URL + " refused the credentials (unauthorized: incorrect username or password)"},
			{"source unset", "env:CEREMONY_TEST_UNSET_AUTH", "preflight: notary.auth: environment variable CEREMONY_TEST_UNSET_AUTH is not set"},
			{"push and pull only", "env:CEREMONY_TEST_DELEGATE_AUTH",
				`preflight: the account "delegate" may not rotate keys on docker.io/alice/refused (granted: pull,push); notary.auth needs '*' on the ceremony's repositories`},
			{"pull only", "env:CEREMONY_TEST_READER_AUTH",
				`preflight: the account "reader" may not publish to docker.io/alice/refused (granted: pull); notary.auth needs '*' on the ceremony's repositories`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := prod.Tokens.Requests("!")
				refusedBeforeKeys(t, prod, env, tc.auth, tc.want)
				if got, want := prod.Tokens.Requests("!")-before, strings.Count(tc.auth, "WRONG"); got != want {
					t.Errorf("the token issuer refused %d requests, want %d", got, want)
				}
			})
		}
	})

	// With the signer down, preflight refuses in one line before any key
	// is made. notary-server notices the signer within its 10 s health
	// period.
	t.Run("signer down", func(t *testing.T) {
		if err := prod.Signer.Stop(); err != nil {
			t.Fatal(err)
		}
		waitHealth(t, prod.Server, 503)
		refusedBeforeKeys(t, prod, env, "env:CEREMONY_TEST_OWNER_AUTH",
			"preflight: notary server "+prod.Server.URL+" is not healthy (503 Service Unavailable): notary-signer (Trust operational): ")
	})
}

// refusedBeforeKeys runs a new ceremony against prod with notary.auth from
// auth and wants it refused in one line, with nothing made on its token.
func refusedBeforeKeys(t *testing.T, prod *scratch.Production, env []string, auth, want string) {
	t.Helper()
	tok := testenv.NewToken(t)
	cfg := testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/alice/refused"}, Notary: prod.Server, Auth: auth}.Write(t)
	r := ceremony(t, env, "run", "--config", cfg, "--non-interactive")
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Fatalf("exit %d, stderr %q; want one line with %q\n%s", r.code, r.stderr, want, r.stdout)
	}
	t.Log(r.stderr)
	objs, err := tok.Session(t).Objects(context.Background())
	if err != nil || len(objs) != 0 {
		t.Fatalf("the token holds %d objects after the refusal (%v)", len(objs), err)
	}
}

// waitHealth polls the server's health endpoint until it answers status:
// notary-server re-checks its signer and database every 10 s.
func waitHealth(t *testing.T, s *testenv.NotaryServer, status int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, got, err := s.Get(context.Background(), "/_notary_server/health")
		if err == nil && got == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health: %d (%v), want %d", got, err, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tailFile(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

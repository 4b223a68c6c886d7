package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
)

// ownerCeremony runs steps 0–6 for gun on a scratch token against srv with a
// delegate key written beside the config, and returns the config path and
// the delegate's key file and passphrase file.
func ownerCeremony(t *testing.T, srv *testenv.NotaryServer, gun string) (cfgPath, keyFile, passFile, tokenKeyURI string) {
	t.Helper()
	dir := t.TempDir()
	// A second delegate keeps its key in a token of its own (targets/hsm).
	dtok := testenv.NewToken(t)
	dkey, err := dtok.Session(t).GenerateKey(context.Background(), hsm.KeySpec{Label: "delegate", Type: keyspec.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	tokenKeyURI = "pkcs11:token=" + dtok.Label + ";object=delegate;type=private?module-path=" + dtok.Module + "&pin-source=" + dtok.PINSource()
	priv, pub, err := trust.GenerateDelegateKey("targets/me", []byte("delegate-pass"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile, passFile = write("me.key", priv), write("me.pass", []byte("delegate-pass\n"))
	cfgPath = testenv.Ceremony{Token: testenv.NewToken(t), GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{
		{Role: "targets/me", Cert: write("me.pub", pub)},
		{Role: "targets/hsm", Cert: write("hsm.pub", testenv.PublicKeyPEM(t, dkey.Public())), Paths: "[releases/]"},
	}}.Write(t)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{}); err != nil {
		t.Fatal(err)
	}
	return cfgPath, keyFile, passFile, tokenKeyURI
}

// TestSignValidate is the delegate side of the seed through the binary:
// sign an image pushed to a registry, validate it, and have the official
// notary CLI read the same digest and size the registry serves.
func TestSignValidate(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	reg := testenv.RegistryT(t)
	gun := "docker.io/alice/nginx"
	cfg, key, pass, tokenKey := ownerCeremony(t, srv, gun)
	img, err := reg.PushRandomImage(context.Background(), "alice/nginx", "latest")
	if err != nil {
		t.Fatal(err)
	}
	other, err := reg.PushRandomImage(context.Background(), "alice/nginx", "other")
	if err != nil {
		t.Fatal(err)
	}
	delegateTrust := filepath.Join(t.TempDir(), "delegate-trust")
	common := []string{"--config", cfg, "--trust-dir", delegateTrust, "--gun", gun}

	r := ceremony(t, nil, append([]string{"sign", "--tag", "latest", "--image", img.Ref, "--role", "targets/me", "--key", key, "--key-passphrase", "file:" + pass}, common...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "signed and published "+gun+":latest "+img.Digest) {
		t.Fatalf("sign: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = ceremony(t, nil, append([]string{"validate", "--tag", "latest", "--image", img.Ref}, common...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "valid: "+gun+" latest is "+img.Digest) {
		t.Fatalf("validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The official CLI agrees with the registry, byte for byte.
	cli := testenv.NotaryCLI(t, srv, filepath.Join(filepath.Dir(cfg), "out", "ca.pem"), gun)
	out := cli("lookup", gun, "latest")
	if want := fmt.Sprintf("latest %s %d", img.Digest, img.Size); strings.TrimSpace(out) != want {
		t.Fatalf("notary lookup = %q, want %q", strings.TrimSpace(out), want)
	}
	if out := cli("list", gun); !strings.Contains(out, "targets/me") {
		t.Fatalf("notary list:\n%s", out)
	}

	// The second delegate signs a manifest file with its token key. Its
	// delegation covers releases/ only: a tag outside is one clear line, and
	// does not get in the way of the next signing.
	manifest := filepath.Join(t.TempDir(), "manifest.json")
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`)
	os.WriteFile(manifest, body, 0o600)
	r = ceremony(t, nil, append([]string{"sign", "--tag", "v1", "--manifest", manifest, "--role", "targets/hsm", "--key", tokenKey}, common...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "tag v1 is outside targets/hsm's paths") {
		t.Fatalf("sign outside the delegation's paths: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = ceremony(t, nil, append([]string{"sign", "--tag", "releases/1", "--manifest", manifest, "--role", "targets/hsm", "--key", tokenKey}, common...)...)
	if r.code != 0 || !strings.Contains(r.stdout, "as targets/hsm") {
		t.Fatalf("sign with a token key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sum := sha256.Sum256(body)
	if out, want := strings.TrimSpace(cli("lookup", gun, "releases/1")), fmt.Sprintf("releases/1 sha256:%x %d", sum, len(body)); out != want {
		t.Fatalf("notary lookup = %q, want %q", out, want)
	}

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"digest mismatch", []string{"validate", "--tag", "latest", "--image", other.Ref}, "the registry serves " + other.Digest},
		{"image not in registry", []string{"validate", "--tag", "latest", "--image", reg.Host + "/alice/nope:latest"}, "is not in the registry"},
		{"tag not signed", []string{"validate", "--tag", "nope", "--image", img.Ref}, "has no signed target nope"},
		{"role without targets/", []string{"sign", "--tag", "x", "--image", img.Ref, "--role", "me", "--key", key, "--key-passphrase", "file:" + pass}, "targets/"},
		{"wrong key passphrase", []string{"sign", "--tag", "x", "--image", img.Ref, "--role", "targets/me", "--key", key, "--key-passphrase", "env:CEREMONY_TEST_WRONG"}, "delegate key: wrong passphrase: give the passphrase the key file was written with"},
		{"missing flag", []string{"validate", "--image", img.Ref}, "required flag(s) \"tag\" not set"},
		{"both image and manifest", []string{"sign", "--tag", "x", "--image", img.Ref, "--manifest", cfg, "--role", "targets/me", "--key", key}, "exactly one of --image"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := ceremony(t, []string{"CEREMONY_TEST_WRONG=wrong"}, append(tc.args, common...)...)
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code == 0 || len(lines) != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want one line with %q", r.code, r.stderr, tc.want)
			}
			t.Log(r.stderr)
			if strings.Contains(r.stderr, "delegate-pass") {
				t.Fatal("a passphrase leaked into the error")
			}
		})
	}
}

// TestDemo runs `ceremony demo`, what `make demo` runs: the whole rehearsal.
func TestDemo(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "demo")
	notaryLog := filepath.Join(t.TempDir(), "notary.log")
	cmd := exec.Command(binary, "demo", "--non-interactive", "--out", out, "--notary-log", notaryLog)
	// The demo makes its own SoftHSM2 configuration.
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF=")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, b)
	}
	for _, want := range []string{"[7/7] Delegation targets/me of docker.io/demo/nginx done", "targets/releases and targets/me hold key", "they agree", "latest sha256:", "targets/me",
		"as targets/me and targets/releases with delegate key", "Signatures for docker.io/demo/nginx:latest",
		"VERIFIED: every check holds, anchored in the CA certificate given"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("demo output lacks %q:\n%s", want, b)
		}
	}
	// Docker's own client shows the rehearsal's tag, signed by me.
	if !regexp.MustCompile(`(?m)^latest +[0-9a-f]{64} +me$`).Match(b) {
		t.Fatalf("docker trust inspect does not show latest signed by me:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(out, "ceremony-out", transcript.FileName)); err != nil {
		t.Fatal(err)
	}
	// notary's debug log, kept for troubleshooting, holds none of the
	// rehearsal's secrets, and neither does what the demo printed.
	logBytes, err := os.ReadFile(notaryLog)
	if err != nil || len(logBytes) == 0 {
		t.Fatalf("notary log: %d bytes, %v", len(logBytes), err)
	}
	secrets, _ := filepath.Glob(filepath.Join(out, "*.secret"))
	if len(secrets) != 4 {
		t.Fatalf("%d secret files", len(secrets))
	}
	for _, f := range secrets {
		v, _ := os.ReadFile(f)
		if strings.Contains(string(logBytes), string(v)) || strings.Contains(string(b), string(v)) {
			t.Fatalf("the secret in %s leaked into the notary log or the output", filepath.Base(f))
		}
	}
}

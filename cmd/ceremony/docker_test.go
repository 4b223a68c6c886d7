package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
)

// dockerTrust is what `docker trust inspect` prints as JSON, the fields the
// test reads.
type dockerTrust []struct {
	Name       string
	SignedTags []struct {
		SignedTag string
		Digest    string
		Signers   []string
	}
	Signers []struct {
		Name string
		Keys []struct{ ID string }
	}
	AdministrativeKeys []struct {
		Name string
		Keys []struct{ ID string }
	}
}

// TestDockerSeesTheCeremony: Debian's docker client, knowing only the
// notary server (DOCKER_CONTENT_TRUST_SERVER and its TLS CA under
// DOCKER_CONFIG), reads a ceremony's repository as a docker user does. The
// GUN is what docker derives from an image in the registry,
// 127.0.0.1:PORT/demo/nginx. A tag signed into the delegate's own role
// alone, as the seed signs, is no signature to docker; signed with no role
// named, into targets/releases too, docker shows it with the registry's
// digest, the signer's name and the keys of the ceremony's root.json.
func TestDockerSeesTheCeremony(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := testenv.NotaryServerT(t)
	reg := testenv.DockerRegistryT(t)
	gun := reg.Host + "/demo/nginx"
	dir := t.TempDir()
	priv, pub, err := trust.GenerateDelegateKey("targets/me", []byte("delegate-pass"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile, passFile, pubFile := filepath.Join(dir, "me.key"), filepath.Join(dir, "me.pass"), filepath.Join(dir, "me.pub")
	for f, b := range map[string][]byte{keyFile: priv, passFile: []byte("delegate-pass\n"), pubFile: pub} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := testenv.Ceremony{Token: testenv.NewToken(t), GUNs: []string{gun}, Notary: srv,
		Delegations: []testenv.Delegation{{Role: "targets/me", Cert: pubFile, Docker: true}}}.Write(t)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := steps.Run(ctx, steps.NewPlan(cfg), steps.Options{}); err != nil {
		t.Fatal(err)
	}
	delegationRecord(t, cfg, steps.DelegationID(gun, "targets/me"), []string{"targets/releases", "targets/me"})
	if _, err := reg.PushRandomImage(ctx, "demo/nginx", "seed"); err != nil {
		t.Fatal(err)
	}
	img, err := reg.PushRandomImage(ctx, "demo/nginx", "latest")
	if err != nil {
		t.Fatal(err)
	}
	sign := func(tag string, args ...string) string {
		t.Helper()
		r := ceremony(t, nil, append([]string{"sign", "--config", cfgPath, "--trust-dir", filepath.Join(dir, "delegate-trust"),
			"--gun", gun, "--tag", tag, "--image", reg.Host + "/demo/nginx:" + tag, "--key", keyFile, "--key-passphrase", "file:" + passFile}, args...)...)
		if r.code != 0 {
			t.Fatalf("sign %s: exit %d\n%s%s", tag, r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	docker := func(ref string) dockerTrust {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd, err := srv.DockerTrust(ctx, t.TempDir(), "trust", "inspect", ref)
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
		}
		var v dockerTrust
		if err := json.Unmarshal(out, &v); err != nil || len(v) != 1 {
			t.Fatalf("docker trust inspect %s: %v\n%s", ref, err, out)
		}
		return v
	}

	// The seed's way: targets/me alone. Docker sees the signer, not the tag.
	if out := sign("seed", "--role", "targets/me"); !strings.Contains(out, " as targets/me with key") {
		t.Fatalf("sign --role targets/me: %s", out)
	}
	if v := docker(gun + ":seed"); len(v[0].SignedTags) != 0 || len(v[0].Signers) != 1 || v[0].Signers[0].Name != "me" {
		t.Fatalf("docker's view of a tag signed into targets/me alone: %+v", v[0])
	}

	// No role named: every role of the key, targets/releases among them.
	if out := sign("latest"); !strings.Contains(out, "signed and published "+gun+":latest "+img.Digest) || !strings.Contains(out, "as targets/me and targets/releases") {
		t.Fatalf("sign: %s", out)
	}
	v := docker(gun + ":latest")[0]
	dk, err := trust.DelegateKeyFromPEM(priv, []byte("delegate-pass"))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.SignedTags) != 1 || v.SignedTags[0].SignedTag != "latest" || "sha256:"+v.SignedTags[0].Digest != img.Digest ||
		!slices.Equal(v.SignedTags[0].Signers, []string{"me"}) {
		t.Errorf("docker's signed tags %+v, want latest %s by me", v.SignedTags, img.Digest)
	}
	if len(v.Signers) != 1 || v.Signers[0].Name != "me" || len(v.Signers[0].Keys) != 1 || v.Signers[0].Keys[0].ID != dk.ID() {
		t.Errorf("docker's signers %+v, want me with key %s", v.Signers, dk.ID())
	}
	root, targets := rootJSONKeys(t, srv, gun)
	if len(root) != 1 || len(targets) != 1 {
		t.Fatalf("root.json's root keys %v, targets keys %v", root, targets)
	}
	admin := map[string][]string{}
	for _, a := range v.AdministrativeKeys {
		for _, k := range a.Keys {
			admin[a.Name] = append(admin[a.Name], k.ID)
		}
	}
	if !slices.Equal(admin["Root"], root) || !slices.Equal(admin["Repository"], targets) {
		t.Errorf("docker's administrative keys %v, root.json's root %v and targets %v", admin, root, targets)
	}
	// The root key docker trusts is the ceremony's repository certificate.
	certPEM, err := os.ReadFile(filepath.Join(cfg.OutputDir(), steps.RepoCertFile(gun)))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if id := utils.CertToKey(cert).ID(); !slices.Equal(admin["Root"], []string{id}) {
		t.Errorf("docker's root key %v, the ceremony's repository certificate is key %s", admin["Root"], id)
	}
}

// rootJSONKeys reads the root and targets key IDs of root.json as the
// server serves it.
func rootJSONKeys(t *testing.T, srv *testenv.NotaryServer, gun string) (root, targets []string) {
	t.Helper()
	raw, code, err := srv.Get(context.Background(), "/v2/"+gun+"/_trust/tuf/root.json")
	if err != nil || code != 200 {
		t.Fatalf("GET root.json: %d, %v", code, err)
	}
	var doc struct {
		Signed struct {
			Roles map[string]struct{ KeyIDs []string }
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Signed.Roles["root"].KeyIDs, doc.Signed.Roles["targets"].KeyIDs
}

// delegationRecord checks that the transcript's entry for the delegation
// step records every role the delegate's key went into, both as asked
// (inputs) and as published (results).
func delegationRecord(t *testing.T, cfg *config.Config, id steps.ID, roles []string) {
	t.Helper()
	entries, err := transcript.Read(filepath.Join(cfg.OutputDir(), transcript.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind != transcript.KindStep || e.Step == nil || e.Step.ID != string(id) {
			continue
		}
		var res struct {
			Notary struct {
				Delegations []string
				KeyID       string
				Roles       []struct {
					Name   string
					KeyIDs []string
				}
			}
		}
		if err := json.Unmarshal(e.Results, &res); err != nil {
			t.Fatal(err)
		}
		asked, _ := json.Marshal(e.Inputs["roles"])
		if want, _ := json.Marshal(roles); string(asked) != string(want) || e.Inputs["docker"] != true {
			t.Errorf("%s inputs %v, want roles %s and docker true", id, e.Inputs, want)
		}
		if !slices.Equal(res.Notary.Delegations, roles) {
			t.Errorf("%s results: delegations %v, want %v", id, res.Notary.Delegations, roles)
		}
		held := 0
		for _, r := range res.Notary.Roles {
			if slices.Contains(roles, r.Name) && slices.Equal(r.KeyIDs, []string{res.Notary.KeyID}) {
				held++
			}
		}
		if held != len(roles) || res.Notary.KeyID == "" {
			t.Errorf("%s results: %d of %v hold key %q: %+v", id, held, roles, res.Notary.KeyID, res.Notary.Roles)
		}
		return
	}
	t.Fatalf("no transcript entry for %s", id)
}

// Package rehearsal is `ceremony demo`: the whole ceremony on throwaway
// components — a scratch SoftHSM2 token, a local notary-server process and an
// in-process OCI registry — followed by the delegate's signing and the
// validation, so a trainer can show every step of the seed procedure without
// touching a real HSM or a real server.
package rehearsal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/scratch"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
	"github.com/ceremony-dev/ceremony/ui"
)

// GUN is the rehearsal's repository.
const GUN = "docker.io/demo/nginx"

// Options for a rehearsal.
type Options struct {
	// Dir holds everything the rehearsal makes; it must not exist or be empty.
	Dir     string
	Out     io.Writer
	Events  func(steps.Event)
	Version string

	// The wizard's wiring, all optional (a headless rehearsal leaves them
	// nil): the runner's questions, masked prompts, deviations, the plan
	// once it is built, and the transcript's verification, which then is
	// handed over instead of printed.
	Ask        func(context.Context, steps.Question) steps.Answer
	Prompter   secret.Prompter
	Deviations <-chan steps.Deviation
	Plan       func(*steps.Plan)
	Verified   func(*audit.Result, error)
}

// Run rehearses the ceremony. It sets SOFTHSM2_CONF for this process, so it
// must run before anything else loads SoftHSM2.
func Run(ctx context.Context, o Options) error {
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("rehearsal directory: %w", err)
	}
	if entries, _ := os.ReadDir(o.Dir); len(entries) > 0 {
		return fmt.Errorf("rehearsal directory %s is not empty: give a new one with --out", o.Dir)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}

	// A scratch token: SoftHSM2 reads its configuration when the module loads.
	conf, err := scratch.WriteSoftHSMConfig(filepath.Join(dir, "softhsm"))
	if err != nil {
		return err
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	pin, soPIN := randomSecret(), randomSecret()
	mod, err := hsm.Open(config.DefaultModule)
	if err != nil {
		return fmt.Errorf("%w (install Debian's softhsm2: make deps)", err)
	}
	defer mod.Close()
	if _, err := mod.InitToken(ctx, "demo", soPIN, pin); err != nil {
		return err
	}
	secrets := map[string][]byte{"pin": pin, "targets": randomSecret(), "snapshot": randomSecret(), "delegate": randomSecret()}
	for name, v := range secrets {
		if err := os.WriteFile(filepath.Join(dir, name+".secret"), v, 0o600); err != nil {
			return err
		}
	}
	say("== scratch SoftHSM2 token \"demo\" (%s); secrets in 0600 files under %s", conf, dir)

	srv, err := scratch.StartNotaryServer(ctx, filepath.Join(dir, "notary-server"))
	if err != nil {
		return err
	}
	defer srv.Stop()
	say("== local notary-server 0.7.0 (pid %d) at %s, TLS from a throwaway CA", srv.PID, srv.URL)

	reg := scratch.StartRegistry(io.Discard)
	defer reg.Close()
	img, err := reg.PushRandomImage(ctx, "demo/nginx", "latest")
	if err != nil {
		return err
	}
	say("== in-process registry: pushed %s (%s, %d bytes)", img.Ref, img.Digest, img.Size)

	// The delegate's device: `docker trust key generate me`.
	priv, pub, err := trust.GenerateDelegateKey("targets/me", secrets["delegate"])
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "me.key"), priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "me.pub"), pub, 0o644); err != nil {
		return err
	}
	say("== delegate key made on the delegate's side: me.key (encrypted), me.pub handed to the ceremony")

	cfgPath := filepath.Join(dir, "ceremony.yaml")
	body := fmt.Sprintf(`# The rehearsal's ceremony: review this file as the witnesses would.
hsm:   {module: %s, token: demo, pin: file:pin.secret}
ca:    {label: ca, key: ecdsa-p256, subject: "CN=Docker Notary CA (rehearsal)", days: 7300}
root:  {label: root, key: ecdsa-p256, days: 365}
repositories:
  - {gun: %s, days: 375}
notary:
  url: %s
  tls_ca: %s
  trust_dir: ./trust
  targets_passphrase: file:targets.secret
  snapshot_passphrase: file:snapshot.secret
delegations:
  - {gun: %s, role: targets/me, cert: me.pub, paths: all, docker: true}   # as docker trust signer add: targets/releases too
output: ./ceremony-out
training: true   # a rehearsal: every certificate says O=TRAINING - NOT FOR PRODUCTION
`, config.DefaultModule, GUN, srv.URL, srv.CAFile, GUN)
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	plan := steps.NewPlan(cfg)
	say("\n== the plan (%s)", cfgPath)
	if o.Plan != nil {
		o.Plan(plan)
	} else if err := ui.WritePlan(o.Out, plan, "text"); err != nil {
		return err
	}
	if err := steps.Run(ctx, plan, steps.Options{Events: o.Events, Version: o.Version,
		Ask: o.Ask, Prompter: o.Prompter, Deviations: o.Deviations}); err != nil {
		return err
	}

	// The delegate signs the image, as on its own device with its own trust dir.
	say("\n== step 7, on the delegate's side: sign %s:latest into every role of its key, as docker trust sign does", GUN)
	delegate, err := trust.New(trust.Config{URL: srv.URL, TLSCA: srv.CAFile, TrustDir: filepath.Join(dir, "delegate-trust"),
		PinCA: filepath.Join(cfg.OutputDir(), steps.CAFile)})
	if err != nil {
		return err
	}
	defer delegate.Close()
	digest, size, err := trust.ManifestDigest(ctx, img.Ref)
	if err != nil {
		return err
	}
	key, err := trust.DelegateKeyFromPEM(priv, secrets["delegate"])
	if err != nil {
		return err
	}
	signed, err := delegate.AddTarget(ctx, GUN, nil, "latest", digest, size, key)
	if err != nil {
		return err
	}
	say("   signed %s (%d bytes) as %s with delegate key %s", digest, size, strings.Join(signed.Roles(), " and "), key.ID())

	say("\n== step 8: validate: notary's target against the registry's manifest")
	v, err := delegate.Validate(ctx, GUN, "latest", img.Ref)
	if err != nil {
		return err
	}
	say("   notary: %s %d bytes (signed by %s); registry: %s %d bytes: they agree", v.Target.Digest, v.Target.Size, v.Target.Role, v.ManifestDigest, v.ManifestSize)
	if err := cliLookup(ctx, say, dir, srv, filepath.Join(cfg.OutputDir(), steps.CAFile)); err != nil {
		return err
	}
	if err := dockerInspect(ctx, say, dir, srv); err != nil {
		return err
	}
	if err := verifyTranscript(ctx, say, o.Out, cfg.OutputDir(), o.Verified); err != nil {
		return err
	}
	say("\n== done. Outputs in %s; transcript %s", cfg.OutputDir(), filepath.Join(cfg.OutputDir(), transcript.FileName))
	return nil
}

// verifyTranscript checks the rehearsal's own transcript as an auditor would,
// with the CA certificate as the only trust anchor, and prints the summary.
func verifyTranscript(ctx context.Context, say func(string, ...any), w io.Writer, out string, verified func(*audit.Result, error)) error {
	path := filepath.Join(out, transcript.FileName)
	say("\n== step 9, the auditor's side: ceremony verify %s --ca %s --artifacts %s", path, filepath.Join(out, steps.CAFile), out)
	res, err := audit.VerifyOutput(ctx, out)
	if verified != nil {
		verified(res, err)
	}
	if err != nil {
		return err
	}
	if verified != nil {
		say("   %s", ui.Verdict(res))
	} else if err := ui.PrintVerification(w, res); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("the rehearsal's own transcript does not verify: %s", ui.FailureLine(res.Failure))
	}
	return nil
}

// cliLookup shows what the official notary CLI, an independent client that
// knows only the server, its CA and the pinned ceremony CA, reads back.
func cliLookup(ctx context.Context, say func(string, ...any), dir string, srv *scratch.NotaryServer, pinCA string) error {
	bin, err := exec.LookPath("notary")
	if err != nil {
		say("\n(the notary CLI is not installed: make deps installs it; skipping its view)")
		return nil
	}
	path := filepath.Join(dir, "notary-cli.json")
	if err := srv.WriteCLIConfig(path, filepath.Join(dir, "cli-trust"), GUN, pinCA); err != nil {
		return err
	}
	for _, args := range [][]string{{"lookup", GUN, "latest"}, {"delegation", "list", GUN}} {
		out, err := exec.CommandContext(ctx, bin, append([]string{"-c", path}, args...)...).CombinedOutput()
		say("\n== the notary CLI 0.7.0, pinned to the ceremony CA: notary %s", strings.Join(args, " "))
		say("%s", strings.TrimRight(string(out), "\n"))
		if err != nil {
			return fmt.Errorf("notary %s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// dockerInspect shows what docker's own client reads: it shows a tag only
// when targets/releases signs it, and trusts the root on first use.
func dockerInspect(ctx context.Context, say func(string, ...any), dir string, srv *scratch.NotaryServer) error {
	cmd, err := srv.DockerTrust(ctx, filepath.Join(dir, "docker"), "trust", "inspect", "--pretty", GUN+":latest")
	if err != nil {
		say("\n(%v; skipping docker's view)", err)
		return nil
	}
	out, err := cmd.CombinedOutput()
	say("\n== docker's client (DOCKER_CONTENT_TRUST_SERVER=%s; it trusts the root on first use): docker trust inspect --pretty %s:latest", srv.URL, GUN)
	say("%s", strings.TrimRight(string(out), "\n"))
	if err != nil {
		return fmt.Errorf("docker trust inspect: %w", err)
	}
	return nil
}

func randomSecret() []byte {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return []byte(hex.EncodeToString(b))
}

package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/ui"
)

// TestFormsWriteAndPlan: the config forms (accessible mode, answers on
// stdin) list the real token through hsm, write a config, and `ceremony
// run --config written.yaml --plan` plans it.
func TestFormsWriteAndPlan(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	all, err := listTokenChoices(context.Background(), tok.Module)
	if err != nil {
		t.Fatal(err)
	}
	var mine []ui.TokenChoice
	for _, c := range all {
		if c.Label == tok.Label {
			mine = append(mine, c)
		}
	}
	if len(mine) != 1 || mine[0].Serial == "" || !strings.Contains(mine[0].Manufacturer, "SoftHSM") {
		t.Fatalf("the module's tokens %+v lack %s", all, tok.Label)
	}
	// Other tests' tokens come and go on the shared module: show this one.
	only := func(context.Context, string) ([]ui.TokenChoice, error) { return mine, nil }

	dir := t.TempDir()
	answers := strings.Join([]string{
		tok.Module, "", "env:CEREMONY_TEST_PIN", // module, token, PIN
		"", "", "", "", "", "", // keys
		"", "", "", "", // certificates
		"docker.io/alice/nginx, docker.io/alice/redis 90", "", // repositories
		"n",    // no notary
		"Olga", // operator
		"n",    // no witnesses
		"", "", // output, config file
		"yes",
	}, "\n") + "\n"
	var out bytes.Buffer
	path, err := ui.RunForms(context.Background(), ui.FormsOptions{Dir: dir, Tokens: only, Plain: true,
		In: strings.NewReader(answers), Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(out.String(), string(raw)) {
		t.Fatalf("the file was not shown whole before yes:\n%s", out.String())
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HSM.Module != tok.Module || cfg.HSM.Token != tok.Label || cfg.HSM.PIN != "env:CEREMONY_TEST_PIN" || cfg.Operator != "Olga" {
		t.Fatalf("written hsm %+v, operator %q", cfg.HSM, cfg.Operator)
	}
	r := ceremony(t, nil, "run", "--config", path, "--plan")
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"1. Create the CA", "Repository certificate for docker.io/alice/nginx",
		"Repository certificate for docker.io/alice/redis", "openssl ca -create_serial -extensions repo_cert -days 90"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestRunWithoutConfigNeedsTerminal: without --config and without a
// terminal, run says how to proceed.
func TestRunWithoutConfigNeedsTerminal(t *testing.T) {
	t.Parallel()
	r := ceremony(t, nil, "run")
	if r.code != 2 || !strings.Contains(r.stderr, "--config is required unless stdin and stdout are a terminal") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}

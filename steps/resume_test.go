package steps_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
)

// deleteObjects removes every object labelled label from the token, as an
// operator with pkcs11-tool could.
func deleteObjects(t *testing.T, tok testenv.Token, label string) {
	t.Helper()
	tool := testenv.Tool(t, "pkcs11-tool")
	for _, typ := range []string{"privkey", "pubkey", "cert"} {
		out, err := exec.Command(tool, "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN,
			"--delete-object", "--type", typ, "--label", label).CombinedOutput()
		if err != nil {
			t.Fatalf("pkcs11-tool --delete-object %s %s: %v\n%s", typ, label, err, out)
		}
	}
}

// TestResumeRefuses: an interrupted ceremony is not continued on what it did
// not make or no longer declares; each refusal is one line saying what to do.
func TestResumeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, stopAt string
		change       func(t *testing.T, tok testenv.Token, c *testenv.Ceremony)
		want         string
	}{
		{"a key replaced on the token", "root:after-record", func(t *testing.T, tok testenv.Token, _ *testenv.Ceremony) {
			deleteObjects(t, tok, "root")
			if _, err := tok.Session(t).GenerateKey(context.Background(), hsm.KeySpec{Label: "root", Type: keyspec.ECDSAP256}); err != nil {
				t.Fatal(err)
			}
		}, "is not the key the journal recorded"},
		{"an intended key's label changed", "ca:after-generate-ca", func(_ *testing.T, _ testenv.Token, c *testenv.Ceremony) {
			c.Extra = "ca: {label: ca2}\n"
		}, `the journal set out to make key "ca", which the config no longer declares`},
		{"the transcript key changed", "ca:after-record", func(_ *testing.T, _ testenv.Token, c *testenv.Ceremony) {
			c.Extra = "transcript: {label: tx}\n"
		}, `the journal is signed by transcript key "transcript", and the config names "tx"`},
		{"training flipped", "ca:after-record", func(_ *testing.T, _ testenv.Token, c *testenv.Ceremony) {
			c.Extra = "training: true\n"
		}, "a rehearsal cannot become a real ceremony or the reverse"},
		{"an interrupted start's transcript key renamed", "preflight:after-generate-transcript", func(_ *testing.T, _ testenv.Token, c *testenv.Ceremony) {
			c.Extra = "transcript: {label: tx}\n"
		}, `an interrupted start was making transcript key "transcript" (ecdsa-p256), and the config names "tx"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			c := testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}}
			path := c.Write(t)
			first := loadPath(t, path)
			runUntil(t, first, tc.stopAt)
			tc.change(t, tok, &c)
			// The changed config goes where the first one was, so that it
			// names the same output directory.
			if err := os.WriteFile(path, []byte(strings.Replace(string(first.Raw), "output: out\n", c.Extra+"output: out\n", 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := run(t, loadPath(t, path))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("resume: %v\nwant one line with %q", err, tc.want)
			}
		})
	}
}

// TestTokenLocked: a second run on the same token, from another config and
// output directory, is refused while the first holds it, naming its PID.
func TestTokenLocked(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	first := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}})
	second := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/c"}})
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- steps.Run(context.Background(), steps.NewPlan(first), steps.Options{Hook: func(p string) {
			if p == "ca:before-generate-ca" {
				close(holding)
				<-release
			}
		}})
	}()
	<-holding
	_, err := run(t, second)
	close(release)
	if err == nil || !strings.Contains(err.Error(), "is in use by another ceremony process (pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("second run: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("first run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(second.OutputDir(), "ca.pem")); !os.IsNotExist(err) {
		t.Fatal("the refused run made outputs")
	}
}

func loadPath(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

package steps

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/faults"
	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// TestWrongPINNeverRetried: a step that logs in again after preflight (as a
// reconnect after a lost session would) with a wrong PIN, on tpm2-pkcs11,
// which locks the whole TPM after three wrong PINs (its lockout is off
// here). The operator answers Retry to every question; the run must still
// stop after one C_Login, counted through the faults seam, with one line
// that names the token and says nothing was retried.
func TestWrongPINNeverRetried(t *testing.T) {
	t.Parallel()
	tok := testenv.NewTPM2Token(t)
	cfg, err := config.Load(testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/pin"}}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	in := faults.New(faults.Fault{})
	relogin := Step{ID: "relogin", Title: "Log in again", Explain: "a step added by a test", Seed: []string{"(none)"},
		run: func(ctx context.Context, st *State) (*Result, error) {
			s, err := hsm.Connect(ctx, tok.Module, hsm.TokenSelector{Label: tok.Label},
				func(context.Context) ([]byte, error) { return []byte("not-" + tok.PIN), nil }, hsm.WithPKCS11(in.Wrap))
			if err != nil {
				return nil, err
			}
			s.Close()
			return &Result{Summary: "logged in"}, nil
		}}
	p := NewPlan(cfg)
	p.Steps = append([]Step{p.Steps[0], relogin}, p.Steps[1:]...)
	asked := 0
	err = Run(context.Background(), p, Options{Ask: func(_ context.Context, q Question) Answer {
		if q.Kind == Failed {
			asked++
			if asked > 2 {
				return Abort // a regression fails the test instead of looping
			}
			return Retry
		}
		return Proceed
	}})
	if !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatalf("run = %v, want the wrong PIN", err)
	}
	if n := countMethod(in, "C_Login"); n != 1 || asked != 0 {
		t.Fatalf("%d C_Login calls, %d retry questions; want 1 and 0", n, asked)
	}
	msg := err.Error()
	for _, want := range []string{`wrong PIN for token "` + tok.Label + `"`, "the token locks after a few wrong tries", "nothing was retried"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") || strings.Contains(msg, tok.PIN) {
		t.Fatalf("not one line, or holds the PIN: %q", msg)
	}
}

func countMethod(in *faults.Injector, method string) int {
	n := 0
	for _, c := range in.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

package steps

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/pki"
)

// tsaStep is a step no plan knows: a timestamp key certified by the CA,
// declared in one literal as a new step file would declare it.
func tsaStep(cfg *config.Config, days int) Step {
	return Step{
		ID: "tsa", Title: "Create the timestamp key", Explain: "a step added by a test", Seed: []string{"(none)"},
		Irreversible: true,
		Needs:        []ID{CAID},
		Keys:         []Key{{Label: "tsa", Type: keyspec.ECDSAP384, Role: "timestamp"}},
		Certs: []Cert{{File: "tsa.pem", Key: "tsa", IssuerKey: cfg.CA.Label, Issuer: CAFile, CSR: CSR{CN: pki.TranscriptCommonName},
			Issue: func(ctx context.Context, in Issuance) (*x509.Certificate, error) {
				in.Request.Days = days
				return pki.IssueTranscript(ctx, in.IssuerCert, in.Signer, in.CSR, in.Request)
			}}},
		summary: func(m *Made) string { return "timestamp key " + m.Key("tsa").IDHex() },
	}
}

// usesTSA is a step after it that needs what it made.
func usesTSA() Step {
	return Step{ID: "use-tsa", Title: "Use the timestamp key", Explain: "a step added by a test", Seed: []string{"(none)"},
		Needs: []ID{"tsa"},
		run: func(ctx context.Context, st *State) (*Result, error) {
			key, cert := st.keys["tsa"], st.certs["tsa.pem"]
			if key == nil || cert == nil || !keyspec.SamePublic(cert.PublicKey, key.Public()) {
				return nil, fmt.Errorf("the timestamp key and certificate are not there")
			}
			return &Result{Summary: "used " + key.IDHex()}, nil
		}}
}

func extendedPlan(t *testing.T, tok testenv.Token, days int) *Plan {
	t.Helper()
	cfg, err := config.Load(testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlan(cfg)
	p.Steps = append(p.Steps, tsaStep(cfg, days), usesTSA())
	return p
}

// runTo runs the plan and stops it at the hook point, as a crash would.
func runTo(t *testing.T, p *Plan, point string) {
	t.Helper()
	type stop struct{}
	defer func() {
		if r := recover(); r != nil && r != (stop{}) {
			panic(r)
		}
	}()
	Run(context.Background(), p, Options{Hook: func(at string) {
		if at == point {
			panic(stop{})
		}
	}})
	t.Fatalf("the run did not reach %s", point)
}

func countLabel(t *testing.T, tok testenv.Token, label string) map[string]int {
	t.Helper()
	objs, err := tok.Session(t).Objects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, o := range objs {
		if o.Label == label {
			n[o.Class]++
		}
	}
	return n
}

// TestAddedStepKilledAndResumed: the added step's key gets an intent and is
// adopted after a crash inside it; a crash after it leaves a finished step
// whose key and certificate resume finds again for the step after it.
func TestAddedStepKilledAndResumed(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"tsa:after-generate-tsa", "tsa:after-write-tsa.pem", "tsa:after-record"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			p := extendedPlan(t, tok, 100)
			runTo(t, p, point)
			if err := Run(context.Background(), p, Options{}); err != nil {
				t.Fatal(err)
			}
			if n := countLabel(t, tok, "tsa"); n["private-key"] != 1 || n["public-key"] != 1 {
				t.Fatalf("after a kill at %s the token holds %v under tsa", point, n)
			}
		})
	}
}

// TestAddedStepPreflight: preflight checks the added step's label and dry-runs
// its certificate with nothing but its declarations, before any key is made.
func TestAddedStepPreflight(t *testing.T) {
	t.Parallel()
	t.Run("certificate the profile refuses", func(t *testing.T) {
		t.Parallel()
		tok := testenv.NewToken(t)
		err := Run(context.Background(), extendedPlan(t, tok, pki.MaxDays+1), Options{})
		var pe *ProblemsError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "tsa.pem") || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("preflight: %v", err)
		}
		if objs, _ := tok.Session(t).Objects(context.Background()); len(objs) != 0 {
			t.Fatalf("a refused preflight left %d objects", len(objs))
		}
	})
	t.Run("label taken", func(t *testing.T) {
		t.Parallel()
		tok := testenv.NewToken(t)
		if _, err := tok.Session(t).GenerateKey(context.Background(), hsm.KeySpec{Label: "tsa", Type: keyspec.ECDSAP256}); err != nil {
			t.Fatal(err)
		}
		err := Run(context.Background(), extendedPlan(t, tok, 100), Options{})
		if !errors.Is(err, hsm.ErrLabelInUse) || !strings.Contains(err.Error(), `label "tsa"`) {
			t.Fatalf("preflight: %v", err)
		}
		if n := countLabel(t, tok, "ca"); len(n) != 0 {
			t.Fatalf("a refused preflight made the CA: %v", n)
		}
	})
}

package steps

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/transcript"
)

// flakyStep fails its first `fails` runs, then finishes.
func flakyStep(fails int, skippable bool) Step {
	runs := 0
	return Step{ID: "flaky", Title: "A flaky step", Explain: "added by a test", Seed: []string{"(none)"},
		Irreversible: true, Skippable: skippable,
		run: func(ctx context.Context, st *State) (*Result, error) {
			runs++
			if runs <= fails {
				return nil, fmt.Errorf("flaky failure %d", runs)
			}
			return &Result{Summary: "finally"}, nil
		}}
}

func gatePlan(t *testing.T, extra ...Step) (*Plan, testenv.Token) {
	t.Helper()
	tok := testenv.NewToken(t)
	cfg, err := config.Load(testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlan(cfg)
	p.Steps = append(p.Steps, extra...)
	return p, tok
}

// journal lists the transcript's entries as kind[:step], and its deviations' texts.
func journal(t *testing.T, p *Plan) ([]string, []string) {
	t.Helper()
	entries, err := transcript.Read(filepath.Join(p.Config.OutputDir(), transcript.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var kinds, texts []string
	for _, e := range entries {
		k := e.Kind
		if e.Step != nil {
			k += ":" + e.Step.ID
		}
		kinds = append(kinds, k)
		if e.Kind == transcript.KindDeviation {
			texts = append(texts, string(e.Results))
		}
	}
	return kinds, texts
}

// TestGateAbort: refusing the first gate, before the transcript key, makes
// nothing at all; refusing a later one is journaled; the same command
// continues, asking each gate once, the transcript key's before it is made.
func TestGateAbort(t *testing.T) {
	t.Parallel()
	p, tok := gatePlan(t)
	stopAt := func(id ID) func(context.Context, Question) Answer {
		return func(_ context.Context, q Question) Answer {
			if q.Step.ID == id {
				return Abort
			}
			return Proceed
		}
	}
	err := Run(context.Background(), p, Options{Ask: stopAt(TranscriptKeyID)})
	if !errors.Is(err, ErrAborted) || !strings.Contains(err.Error(), "nothing was made") {
		t.Fatalf("run: %v", err)
	}
	if objs, _ := tok.Session(t).Objects(context.Background()); len(objs) != 0 {
		t.Fatalf("the first gate refused, yet the token holds %d objects", len(objs))
	}
	err = Run(context.Background(), p, Options{Ask: stopAt(CAID)})
	if !errors.Is(err, ErrAborted) || !strings.Contains(err.Error(), "before step ca") {
		t.Fatalf("run: %v", err)
	}
	if n := countLabel(t, tok, "ca"); len(n) != 0 {
		t.Fatalf("an aborted gate made the CA: %v", n)
	}
	if _, texts := journal(t, p); len(texts) != 1 || !strings.Contains(texts[0], "stopped the ceremony before step ca") {
		t.Fatalf("deviations %v", texts)
	}
	var gates []ID
	if err := Run(context.Background(), p, Options{Ask: func(_ context.Context, q Question) Answer {
		gates = append(gates, q.Step.ID)
		return Proceed
	}}); err != nil {
		t.Fatal(err)
	}
	// Only irreversible steps are gated (the repository certificate is
	// not), and the transcript key's gate was passed in the run before.
	if want := []ID{CAID, RootID}; !slices.Equal(gates, want) {
		t.Fatalf("gates %v, want %v", gates, want)
	}
}

// TestFailureRetryAndSkip: after a failure the operator retries (the journal
// keeps the failure and the retry's attempt number) or, where the plan
// allows, skips (recorded as a deviation and in the seal).
func TestFailureRetryAndSkip(t *testing.T) {
	t.Parallel()
	t.Run("retry", func(t *testing.T) {
		t.Parallel()
		p, _ := gatePlan(t, flakyStep(2, false))
		var failures []string
		err := Run(context.Background(), p, Options{Ask: func(_ context.Context, q Question) Answer {
			if q.Kind == Failed {
				failures = append(failures, q.Err.Error())
				if q.CanSkip {
					t.Error("a step the plan does not let go was offered a skip")
				}
				return Retry
			}
			return Proceed
		}})
		if err != nil {
			t.Fatal(err)
		}
		kinds, _ := journal(t, p)
		got := strings.Join(kinds, " ")
		if len(failures) != 2 || !strings.Contains(got, "failure:flaky failure:flaky step:flaky seal") {
			t.Fatalf("failures %v; journal %s", failures, got)
		}
	})
	t.Run("skip", func(t *testing.T) {
		t.Parallel()
		p, _ := gatePlan(t, flakyStep(5, true))
		err := Run(context.Background(), p, Options{Ask: func(_ context.Context, q Question) Answer {
			if q.Kind == Failed {
				return Skip
			}
			return Proceed
		}})
		if err != nil {
			t.Fatal(err)
		}
		kinds, texts := journal(t, p)
		if got := strings.Join(kinds, " "); !strings.HasSuffix(got, "failure:flaky deviation:flaky seal") ||
			len(texts) != 1 || !strings.Contains(texts[0], "skipped step flaky after it failed: step flaky: flaky failure 1") {
			t.Fatalf("journal %s; deviations %v", got, texts)
		}
	})
	t.Run("abort by default", func(t *testing.T) {
		t.Parallel()
		p, _ := gatePlan(t, flakyStep(1, true))
		if err := Run(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), "flaky failure 1") {
			t.Fatalf("a headless run went on after a failure: %v", err)
		}
	})
}

// TestDeviationWhileRunning: a deviation sent during a step becomes an entry
// naming that step, and its reporter hears when it is on the record.
func TestDeviationWhileRunning(t *testing.T) {
	t.Parallel()
	p, _ := gatePlan(t)
	devs := make(chan Deviation)
	recorded := make(chan error, 1)
	err := Run(context.Background(), p, Options{Deviations: devs, Hook: func(point string) {
		if point == "root:after-generate-root" {
			devs <- Deviation{Text: "witness B left the room for 2 minutes", By: "Witness A", Recorded: recorded}
			if err := <-recorded; err != nil {
				t.Errorf("recorded: %v", err)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	kinds, texts := journal(t, p)
	if !slices.Contains(kinds, "deviation:root") || len(texts) != 1 || !strings.Contains(texts[0], "left the room") {
		t.Fatalf("journal %v; deviations %v", kinds, texts)
	}
}

// TestGateBatch: publishing steps in a row are confirmed once, at the
// first, and the question lists the others; a key still has its own gate.
func TestGateBatch(t *testing.T) {
	t.Parallel()
	publish := func(id ID) Step {
		return Step{ID: id, Title: "Publish " + string(id), Explain: "added by a test", Seed: []string{"(none)"},
			Irreversible: true, Publishes: "docker.io/a/b",
			run: func(context.Context, *State) (*Result, error) { return &Result{Summary: "published"}, nil }}
	}
	p, _ := gatePlan(t, publish("pub:1"), publish("pub:2"), publish("pub:3"))
	var gates []ID
	var batch []ID
	err := Run(context.Background(), p, Options{Ask: func(_ context.Context, q Question) Answer {
		gates = append(gates, q.Step.ID)
		if q.Step.ID == "pub:1" {
			for _, s := range q.Batch {
				batch = append(batch, s.ID)
			}
		}
		return Proceed
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []ID{TranscriptKeyID, CAID, RootID, "pub:1"}; !slices.Equal(gates, want) {
		t.Errorf("gates %v, want %v", gates, want)
	}
	if want := []ID{"pub:2", "pub:3"}; !slices.Equal(batch, want) {
		t.Errorf("batch %v, want %v", batch, want)
	}
}

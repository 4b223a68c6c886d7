package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/steps"
)

// The budgets: the first frame in under 100 ms, and View() under
// 5 ms at 200×60 with 1,000 repositories in the plan. Each benchmark
// reports its time as a share of its budget ("budget" < 1 is within).

// bigPlan is a plan of 1,000 repositories, published and each delegated:
// some 4,000 steps.
func bigPlan(b *testing.B) *steps.Plan {
	b.Helper()
	var y strings.Builder
	y.WriteString("hsm: {module: /usr/lib/softhsm/libsofthsm2.so, token: demo, pin: prompt}\nrepositories:\n")
	for i := range 1000 {
		fmt.Fprintf(&y, "  - {gun: docker.io/bench/repo%04d}\n", i)
	}
	y.WriteString("notary: {url: \"https://notary.example.com\", tls_ca: tls-ca.pem, trust_dir: trust, targets_passphrase: prompt, snapshot_passphrase: prompt}\ndelegations:\n")
	for i := range 1000 {
		fmt.Fprintf(&y, "  - {gun: docker.io/bench/repo%04d, role: targets/me, cert: me.pub, paths: all}\n", i)
	}
	y.WriteString("output: /srv/ceremony/out\n")
	dir, _ := filepath.Abs(filepath.Join("testdata", "wizard"))
	cfg, err := config.Parse([]byte(y.String()), dir)
	if err != nil {
		b.Fatal(err)
	}
	return steps.NewPlan(cfg)
}

func budget(b *testing.B, limit time.Duration) {
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(limit), "budget")
}

// BenchmarkWizardFirstFrame: the model made over the plan, sized, drawn.
func BenchmarkWizardFirstFrame(b *testing.B) {
	p := bigPlan(b)
	e := NewEngine(context.Background(), func(context.Context, *Engine) error { return nil })
	for b.Loop() {
		m := NewWizard(e, WizardOptions{Title: "bench", Plan: p})
		m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
		_ = m.View()
	}
	budget(b, 100*time.Millisecond)
}

// BenchmarkWizardView: one frame mid-ceremony, a gate open half way down
// the script.
func BenchmarkWizardView(b *testing.B) {
	p := bigPlan(b)
	m := NewWizard(NewEngine(context.Background(), func(context.Context, *Engine) error { return nil }), WizardOptions{Title: "bench", Plan: p})
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	mid := len(p.Steps) / 2
	for i := range mid {
		m.Update(eventMsg{steps.Event{Kind: steps.StepFinished, Index: i, Total: len(p.Steps) - 1, Result: &steps.Result{Summary: "done"}}})
	}
	m.Update(questionMsg{q: steps.Question{Kind: steps.Confirm, Step: &p.Steps[mid], Index: mid, Total: len(p.Steps) - 1}, reply: make(chan steps.Answer, 1)})
	for b.Loop() {
		_ = m.View()
	}
	budget(b, 5*time.Millisecond)
}

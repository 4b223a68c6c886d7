package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/scratch"
	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// BenchmarkCeremonyRepos runs whole ceremonies of 10, 100 and 1,000
// repositories against a local notary-server with memory storage, and
// against notary as it is deployed (notary-server and notary-signer on
// PostgreSQL, internal/scratch's production topology), and reports
// the time per repository of the publishing steps (notary init and the
// snapshot key's rotation), and how the last tenth of the repositories
// compares with the first: last10/first10 stays near 1 when a repository
// costs the same whatever came before it.
//
//	go test -run '^$' -bench CeremonyRepos -benchtime 1x ./steps
func BenchmarkCeremonyRepos(b *testing.B) {
	for _, top := range []struct {
		name  string
		start func(testing.TB) *testenv.NotaryServer
	}{{"memory", testenv.NotaryServerT}, {"production", productionServer}} {
		b.Run(top.name, func(b *testing.B) { benchRepos(b, top.start(b)) })
	}
}

func benchRepos(b *testing.B, srv *testenv.NotaryServer) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("repos=%d", n), func(b *testing.B) {
			var first, last, all time.Duration
			for b.Loop() {
				b.StopTimer()
				plan := scalePlan(b, srv, n)
				t := newStepTimer()
				b.StartTimer()
				if err := Run(context.Background(), plan, Options{Events: t.event}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				f, l, a := t.tenths(n)
				first, last, all = first+f, last+l, all+a
				b.StartTimer()
			}
			tenth := float64(max(n/10, 1) * b.N)
			b.ReportMetric(float64(all.Microseconds())/1000/float64(n*b.N), "publish-ms/repo")
			b.ReportMetric(float64(first.Microseconds())/1000/tenth, "first10-ms/repo")
			b.ReportMetric(float64(last.Microseconds())/1000/tenth, "last10-ms/repo")
			b.ReportMetric(float64(last)/float64(first), "last10/first10")
		})
	}
}

// productionServer starts the production topology for tb, without token
// authentication, and stops it at the end.
func productionServer(tb testing.TB) *testenv.NotaryServer {
	dir := tb.TempDir()
	p, err := scratch.StartProduction(context.Background(), dir, scratch.ProductionOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dir, "*", "*.log"))
			more, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, l := range append(logs, more...) {
				b, _ := os.ReadFile(l)
				tb.Logf("%s ends:\n%s", l, b[max(0, len(b)-3000):])
			}
		}
		if err := p.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return p.Server
}

func scalePlan(b *testing.B, srv *testenv.NotaryServer, n int) *Plan { return scalePlanT(b, srv, n) }

func scalePlanT(b testing.TB, srv *testenv.NotaryServer, n int) *Plan {
	guns := make([]string, n)
	run := strings.ReplaceAll(fmt.Sprint(time.Now().UnixNano()), "-", "")
	for i := range guns {
		guns[i] = fmt.Sprintf("docker.io/scale%s/r%d", run, i)
	}
	cfg, err := config.Load(testenv.Ceremony{Token: testenv.NewToken(b), GUNs: guns, Notary: srv}.Write(b))
	if err != nil {
		b.Fatal(err)
	}
	return NewPlan(cfg)
}

// stepTimer sums each repository's publishing steps, in plan order.
type stepTimer struct {
	mu      sync.Mutex
	started map[ID]time.Time
	took    []time.Duration // per repository: its notary init plus snapshot
	at      map[string]int  // GUN -> index in took
}

func newStepTimer() *stepTimer {
	return &stepTimer{started: map[ID]time.Time{}, at: map[string]int{}}
}

func (t *stepTimer) event(e Event) {
	kind, gun, ok := strings.Cut(string(e.StepID), ":")
	if !ok || (kind != "notary-init" && kind != "snapshot") {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Kind {
	case StepStarted:
		t.started[e.StepID] = time.Now()
	case StepFinished:
		i, seen := t.at[gun]
		if !seen {
			i = len(t.took)
			t.at[gun] = i
			t.took = append(t.took, 0)
		}
		t.took[i] += time.Since(t.started[e.StepID])
	}
}

// tenths are the time of the first and the last tenth of the repositories,
// and of all.
func (t *stepTimer) tenths(n int) (first, last, all time.Duration) {
	k := max(n/10, 1)
	for i, d := range t.took {
		all += d
		if i < k {
			first += d
		}
		if i >= len(t.took)-k {
			last += d
		}
	}
	return first, last, all
}

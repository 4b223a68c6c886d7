package ui

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithSoftHSM(m)) }

// TestWizardFlow drives a whole ceremony by keys through the real program
// (teatest): a scratch SoftHSM2 token, a real notary-server behind a proxy
// the test can cut, the PIN typed into the masked field, every gate
// confirmed with a typed yes, and a failure — the server gone while notary
// init publishes — retried with r once it is back. The transcript verifies.
func TestWizardFlow(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	srv := testenv.NotaryServerT(t)
	proxy := newCutProxy(t, strings.TrimPrefix(srv.URL, "https://"))
	cfg, err := config.Load(testenv.Ceremony{Token: tok, PIN: "prompt", GUNs: []string{"docker.io/flow/nginx"},
		Notary: srv, URL: "https://" + proxy.addr, Delegations: []testenv.Delegation{{}}}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	plan := steps.NewPlan(cfg)
	last := len(plan.Steps) - 1
	job := func(ctx context.Context, e *Engine) error {
		if err := steps.Run(ctx, plan, e.Options()); err != nil {
			return err
		}
		out := cfg.OutputDir()
		ca, err := os.ReadFile(filepath.Join(out, steps.CAFile))
		if err != nil {
			return err
		}
		block, _ := pem.Decode(ca)
		if block == nil {
			return fmt.Errorf("%s: no PEM", steps.CAFile)
		}
		caCert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return err
		}
		res, err := audit.Verify(ctx, filepath.Join(out, "transcript.intoto.jsonl"), audit.Options{CA: caCert, ArtifactsDir: out})
		e.Verified(res, err)
		return err
	}
	m := NewWizard(NewEngine(context.Background(), job), WizardOptions{Title: "flow", Plan: plan})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	f := &flow{t: t, tm: tm}

	f.waitTitle(fmt.Sprintf("step 0 of %d · waiting", last)) // the PIN prompt
	tm.Type(tok.PIN)
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	// The transcript key's gate comes first, about its own row before
	// step 1: it is the first key made, right after preflight; the other
	// gates follow in plan order.
	var gated []int
	for i, s := range plan.Steps {
		switch {
		case s.ID == steps.TranscriptKeyID:
			gated = append([]int{i}, gated...)
		case s.Irreversible && !(publishesOnly(s) && publishesOnly(plan.Steps[i-1])):
			// The publishing steps in a row share one gate, at the first.
			gated = append(gated, i)
		}
	}
	for _, i := range gated {
		s := plan.Steps[i]
		if s.ID == steps.TranscriptKeyID {
			f.waitTitle("before step 1 (transcript key) · waiting")
		} else {
			f.waitTitle(fmt.Sprintf("step %d of %d · waiting", i, last))
		}
		cut := s.ID == steps.NotaryInitID("docker.io/flow/nginx")
		if cut {
			proxy.cut(true)
		}
		tm.Type("yes")
		tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		if cut {
			f.waitTitle(fmt.Sprintf("step %d of %d · failed", i, last))
			proxy.cut(false)
			tm.Type("r")
		}
	}
	f.waitTitle("flow — complete")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Wizard)
	if final.runErr != nil {
		t.Fatalf("the run failed: %v", final.runErr)
	}
	res := final.verified.res
	if res == nil || !res.OK {
		t.Fatalf("the transcript does not verify: %+v", final.verified)
	}
	failures := 0
	for _, e := range res.Ceremony.Events {
		if e.Kind == "failure" {
			failures++
		}
	}
	if failures != 1 {
		t.Errorf("%d failures in the transcript, want the one retried", failures)
	}
	if !strings.Contains(ansi.Strip(final.View().Content), "Ceremony complete") {
		t.Errorf("no end screen:\n%s", final.View().Content)
	}
}

func publishesOnly(s steps.Step) bool { return s.Irreversible && s.Publishes != "" && len(s.Keys) == 0 }

// flow waits on the program's output. The wizard's window title names the
// step and its state, and the renderer writes a changed title whole, so it
// is a marker that no partial redraw can split. Output read while waiting
// for one marker stays searchable for the next.
type flow struct {
	t   *testing.T
	tm  *teatest.TestModel
	all []byte
	pos int
}

func (f *flow) waitTitle(want string) {
	f.t.Helper()
	base := len(f.all)
	teatest.WaitFor(f.t, f.tm.Output(), func(b []byte) bool {
		f.all = append(f.all[:base], b...)
		if i := bytes.Index(f.all[f.pos:], []byte(want)); i >= 0 {
			f.pos += i + len(want)
			return true
		}
		return false
	}, teatest.WithDuration(60*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// cutProxy forwards TCP to a server and can refuse service, standing for
// a server that went away and came back at the same address.
type cutProxy struct {
	addr  string
	down  atomic.Bool
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// cut refuses new connections and drops the open ones (a client's
// keep-alive would outlive the server otherwise), or serves again.
func (p *cutProxy) cut(down bool) {
	p.down.Store(down)
	if !down {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *cutProxy) track(c net.Conn, open bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if open {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: l.Addr().String(), conns: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				c.Close()
				continue
			}
			wg.Add(1)
			p.track(c, true)
			go func() {
				defer wg.Done()
				defer p.track(c, false)
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { io.Copy(s, c); s.Close() }()
				io.Copy(c, s)
			}()
		}
	}()
	return p
}

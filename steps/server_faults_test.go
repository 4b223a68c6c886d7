package steps_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
)

// cutProxy stands between the ceremony and notary-server and, once armed,
// lets through a set number of the client's bytes and then cuts: every
// connection is dropped and new ones are refused until restore, which is
// what a client sees of a server that dies and comes back. Whether the
// server's data survives is the caller's choice (onCut may kill it too).
type cutProxy struct {
	ln     net.Listener
	target string
	onCut  func()
	// behind: what dies is behind the server (its signer): the cut calls
	// onCut and lets every byte through, the server stays up to answer.
	behind bool

	mu      sync.Mutex
	armed   bool
	left    int64   // client bytes still let through once armed
	counted int64   // client bytes since the last count reset
	ends    []int64 // counted at the end of each chunk the client sent
	down    bool
	conns   map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string, onCut func()) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, onCut: onCut, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.dropAll() })
	go p.serve()
	return p
}

func (p *cutProxy) URL() string { return "https://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *cutProxy) handle(c net.Conn) {
	p.mu.Lock()
	down := p.down
	if !down {
		p.conns[c] = true
	}
	p.mu.Unlock()
	if down {
		c.Close() // a dead server: the connection is refused at once
		return
	}
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.forget(c)
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[s] = true
	p.mu.Unlock()
	go func() { io.Copy(c, s); c.Close(); p.forget(s) }()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			pass, cut := p.take(int64(n))
			if pass > 0 {
				if _, werr := s.Write(buf[:pass]); werr != nil {
					break
				}
			}
			if cut && p.behind {
				p.onCut()
				if _, werr := s.Write(buf[pass:n]); werr != nil {
					break
				}
			} else if cut {
				p.cut()
				break
			}
		}
		if err != nil {
			break
		}
	}
	s.Close()
	p.forget(c)
}

// take counts n client bytes and says how many go through and whether the
// cut comes now.
func (p *cutProxy) take(n int64) (pass int64, cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return 0, false
	}
	p.counted += n
	p.ends = append(p.ends, p.counted)
	if !p.armed {
		return n, false
	}
	if n < p.left {
		p.left -= n
		return n, false
	}
	pass, p.armed = p.left, false
	return pass, true
}

func (p *cutProxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// arm cuts after n more client bytes.
func (p *cutProxy) arm(n int64) {
	p.mu.Lock()
	p.armed, p.left = true, n
	p.mu.Unlock()
	switch {
	case n == 0 && p.behind:
		p.mu.Lock()
		p.armed = false
		p.mu.Unlock()
		p.onCut()
	case n == 0:
		p.cut()
	}
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	if p.onCut != nil {
		p.onCut()
	}
	p.dropAll()
}

func (p *cutProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	p.down, p.armed = false, false
	p.mu.Unlock()
}

// resetCount starts counting client bytes afresh and returns where each
// chunk since the last reset ended: the client's writes, one a request or
// less, so that the end of one is the moment a server has a whole request
// and has not answered.
func (p *cutProxy) resetCount() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	ends := p.ends
	p.counted, p.ends = 0, nil
	return ends
}

// serverCeremony is faultCeremony with a delegation, its server reached
// through url.
func serverCeremony(t *testing.T, srv *testenv.NotaryServer, url string, tok testenv.Token) *config.Config {
	t.Helper()
	gun := fmt.Sprintf("docker.io/faults/r%d", faultGUN.Add(1))
	return load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, URL: url, Delegations: []testenv.Delegation{{}}})
}

// publishing are the steps of serverCeremony's plan that publish.
func publishing(cfg *config.Config) []steps.ID {
	var ids []steps.ID
	for _, s := range steps.NewPlan(cfg).Steps {
		if s.Publishes != "" {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// recordSent runs cfg through p and returns where each chunk the client
// sent ended, by step.
func recordSent(t *testing.T, cfg *config.Config, p *cutProxy) map[steps.ID][]int64 {
	t.Helper()
	sent := map[steps.ID][]int64{}
	err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Events: func(e steps.Event) {
		switch e.Kind {
		case steps.StepStarted:
			p.resetCount()
		case steps.StepFinished:
			sent[e.StepID] = p.resetCount()
		}
	}})
	if err != nil {
		t.Fatalf("recording run: %v", err)
	}
	for _, id := range publishing(cfg) {
		if len(sent[id]) == 0 {
			t.Fatalf("step %s sent nothing to the server in the recording run", id)
		}
	}
	return sent
}

// runCutting runs cfg and, when step starts, arms p to cut after n bytes.
func runCutting(cfg *config.Config, p *cutProxy, step steps.ID, n int64) error {
	return steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test", Events: func(e steps.Event) {
		if e.Kind == steps.StepStarted && e.StepID == step {
			p.arm(n)
		}
	}})
}

// TestNotaryServerDies cuts the Notary server off in the middle of each
// publishing step, at several points of what the client sends, as a server
// that dies mid-publish does. The step must fail with one line naming it,
// the journal must hold; once the server is back, a rerun must finish with
// one key per label, a transcript that verifies, and each publication made
// once (root.json v2: init, then the snapshot key's rotation).
//
// Two kinds of death: the server's data survives (a server on durable
// storage that restarts: the connection is cut, the server keeps what it
// committed, even a publish whose answer never came), and notary-server
// killed with SIGKILL and restarted on the same port (its memory storage
// starts empty, so only the repository's first publish can be redone: after
// that the server has lost what the journal records as published).
func TestNotaryServerDies(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	p := newCutProxy(t, strings.TrimPrefix(srv.URL, "https://"), nil)
	cfg := serverCeremony(t, srv, p.URL(), testenv.NewToken(t))
	sent := recordSent(t, cfg, p)
	ids := publishing(cfg)
	for i, id := range ids {
		// The server dies before the step's first byte, then after each
		// chunk the client sent (by default every sixth, about three a
		// step: the rest under -faults.full).
		cuts := []int64{0}
		for j, end := range sent[id] {
			if *faultsFull || j%6 == 5 {
				cuts = append(cuts, end)
			}
		}
		t.Logf("step %s: the client sends %d chunks, ending at %v", id, len(sent[id]), sent[id])
		kind := strings.SplitN(string(id), ":", 2)[0]
		for _, n := range cuts {
			t.Run(fmt.Sprintf("%s-%d", kind, n), func(t *testing.T) {
				t.Parallel()
				tok := testenv.NewToken(t)
				p := newCutProxy(t, strings.TrimPrefix(srv.URL, "https://"), nil)
				cfg := serverCeremony(t, srv, p.URL(), tok)
				checkCut(t, cfg, tok, srv, p, publishing(cfg)[i], n, p.restore)
			})
		}
	}
	// A real kill, for the first publish: with memory storage a restarted
	// server has lost everything, which is a new server for a first publish.
	init := sent[ids[0]]
	for _, n := range []int64{0, init[len(init)/2]} {
		t.Run(fmt.Sprintf("killed-notary-init-%d", n), func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			own := testenv.NotaryServerT(t)
			p := newCutProxy(t, strings.TrimPrefix(own.URL, "https://"), func() {
				if err := own.Kill(); err != nil {
					t.Error(err)
				}
			})
			cfg := serverCeremony(t, own, p.URL(), tok)
			checkCut(t, cfg, tok, own, p, publishing(cfg)[0], n, func() {
				if err := own.Restart(context.Background()); err != nil {
					t.Fatal(err)
				}
				p.restore()
			})
		})
	}
}

// checkCut runs cfg cutting the server off n bytes into step, brings it
// back with restore, reruns and checks the ceremony came out whole.
func checkCut(t *testing.T, cfg *config.Config, tok testenv.Token, srv serverReader, p *cutProxy, step steps.ID, n int64, restore func()) {
	t.Helper()
	checkFailed(t, cfg, tok, srv, runCutting(cfg, p, step, n), restore)
}

// checkFailed checks what a run that met a dying server left (err is the
// run's), brings the server back with restore, reruns and checks the
// ceremony came out whole.
func checkFailed(t *testing.T, cfg *config.Config, tok testenv.Token, srv serverReader, err error, restore func()) {
	t.Helper()
	// Cut after the step's last byte, the failure may come in a later
	// step, or none if nothing later talks to the server.
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "step ") {
			t.Fatalf("the error is not one line naming a step:\n%s", msg)
		}
		t.Logf("the run stopped: %s", msg)
	}
	journalConsistent(t, cfg)
	restore()
	if err != nil {
		if err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test"}); err != nil {
			t.Fatalf("rerun once the server is back: %v", err)
		}
	}
	finishedWhole(t, cfg, tok, srv)
	gun := cfg.Repositories[0].GUN
	raw, code, err := srv.Get(context.Background(), "/v2/"+gun+"/_trust/tuf/targets.json")
	if err != nil || code != 200 || !strings.Contains(string(raw), "targets/me") {
		t.Fatalf("targets.json of %s after the rerun: status %d, %v, no delegation targets/me:\n%s", gun, code, err, raw)
	}
}

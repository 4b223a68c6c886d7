package steps_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/audit/audittest"
	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/faults"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
)

// A whole ceremony makes about 160 PKCS#11 calls; failing each with each
// of four return values is over 600 ceremonies and their reruns, ten
// minutes on two cores: -faults.full (make faults) runs them. make test
// fails the first call of each PKCS#11 function in each step, the return
// values taken in turn: about 50 cases, each kind of call in each step once.
var faultsFull = flag.Bool("faults.full", false, "fail every PKCS#11 call of the fault test with every return value, cut the server at every chunk, fill the disk at every page")

// faultCKRs are the token failures the ceremony must survive. A removed
// token and a closed session stay so (sticky: every later call fails too);
// a device or general error is a glitch of one call.
var faultCKRs = []struct {
	name   string
	ckr    uint
	sticky bool
}{
	{"CKR_DEVICE_REMOVED", pkcs11.CKR_DEVICE_REMOVED, true},
	{"CKR_SESSION_HANDLE_INVALID", pkcs11.CKR_SESSION_HANDLE_INVALID, true},
	{"CKR_DEVICE_ERROR", pkcs11.CKR_DEVICE_ERROR, false},
	{"CKR_GENERAL_ERROR", pkcs11.CKR_GENERAL_ERROR, false},
}

// faultCeremony is the fault tests' config: the fastest whole ceremony
// that still publishes (EC keys, one repository, notary init and the
// snapshot rotation), each run under its own repository on the shared server.
func faultCeremony(t *testing.T, srv *testenv.NotaryServer, tok testenv.Token) *config.Config {
	t.Helper()
	gun := fmt.Sprintf("docker.io/faults/r%d", faultGUN.Add(1))
	return load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv})
}

var faultGUN atomic.Int64

// runFaulted runs cfg with every PKCS#11 call going through in.
func runFaulted(cfg *config.Config, in *faults.Injector) error {
	return steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test", HSM: []hsm.Option{hsm.WithPKCS11(in.Wrap)}})
}

// faultWorkers run the cases side by side, each on its own token: the
// runs wait on fsync and the server as much as on the CPU, and a token per
// case would cost more than the case (SoftHSM2's C_InitToken slows with
// every token the process has made).
const faultWorkers = 4

// TestPKCS11Faults fails the Nth PKCS#11 call of a whole ceremony, for
// every N the ceremony makes. Each time the run must stop with one line
// naming the step and the token's error, leave a journal that verifies as
// far as it goes, and a rerun on the healthy token must finish with one key
// pair per label and a transcript that verifies.
func TestPKCS11Faults(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	rec := faults.New(faults.Fault{})
	var stepOf []steps.ID // the step each call was made in
	var step steps.ID = "seal"
	err := steps.Run(context.Background(), steps.NewPlan(faultCeremony(t, srv, testenv.NewToken(t))), steps.Options{
		HSM: []hsm.Option{hsm.WithPKCS11(rec.Wrap)},
		Events: func(e steps.Event) {
			for len(stepOf) < len(rec.Calls()) {
				stepOf = append(stepOf, step)
			}
			step = e.StepID
			if e.Kind == steps.StepFinished {
				step = "seal" // or the gate before the next step
			}
		}})
	if err != nil {
		t.Fatalf("recording run: %v", err)
	}
	calls := rec.Calls()
	for len(stepOf) < len(calls) {
		stepOf = append(stepOf, step)
	}
	t.Logf("a ceremony makes %d PKCS#11 calls: %v", len(calls), calls)
	if len(calls) < 50 {
		t.Fatalf("the recording run made only %d PKCS#11 calls: the seam misses the run", len(calls))
	}
	type faultCase struct {
		name  string
		fault faults.Fault
		ckr   string
	}
	cases := make(chan faultCase)
	go func() {
		defer close(cases)
		// Call N is failed as the kth call of its function: the count of
		// C_GetTokenInfo calls before it depends on how many tokens the
		// tests running beside this one have made, the count of others not.
		nth := map[string]int{}
		seen := map[string]bool{}
		turn := 0
		for n, c := range calls {
			nth[c.Method]++
			k := nth[c.Method]
			where := fmt.Sprintf("%s in %s", c.Method, stepOf[n])
			if !*faultsFull && seen[where] {
				continue
			}
			seen[where] = true
			for i, f := range faultCKRs {
				if *faultsFull || i == turn%len(faultCKRs) {
					cases <- faultCase{fmt.Sprintf("%03d-%s#%d-%s", n+1, c.Method, k, f.name), faults.Fault{Method: c.Method, Call: k, CKR: f.ckr, Sticky: f.sticky}, f.name}
				}
			}
			turn++
		}
	}()
	// t.Run from several goroutines: as many cases at once as there are
	// workers, whatever -test.parallel says.
	var wg sync.WaitGroup
	for range faultWorkers {
		tok := testenv.NewToken(t)
		wg.Go(func() {
			for c := range cases {
				t.Run(c.name, func(t *testing.T) {
					// Emptied even when the case fails, or the next
					// case on this token would trip over its keys.
					t.Cleanup(func() { wipe(t, tok) })
					checkFault(t, srv, tok, c.fault, c.ckr)
				})
			}
		})
	}
	wg.Wait()
}

// checkFault runs one ceremony on tok with fault, then the rerun.
func checkFault(t *testing.T, srv *testenv.NotaryServer, tok testenv.Token, fault faults.Fault, ckrName string) {
	cfg := faultCeremony(t, srv, tok)
	in := faults.New(fault)
	err := runFaulted(cfg, in)
	injected := slices.ContainsFunc(in.Calls(), func(c faults.Call) bool { return c.Err != nil })
	switch {
	case !injected:
		// The sequence is not fixed (x509 may read one more byte of the
		// token's generator): this run made fewer such calls.
		if err != nil {
			t.Fatalf("no fault reached the token, yet the run failed: %v", err)
		}
	case err == nil:
		// Only a call whose failure cannot matter may go unreported:
		// closing the session at the end, reading another slot's token.
		if fault.Method != "C_CloseSession" && fault.Method != "C_GetTokenInfo" {
			t.Errorf("%s #%d failed with %s and the run went on as if it had not", fault.Method, fault.Call, ckrName)
		}
	default:
		oneClearLine(t, err, ckrName)
		if !strings.Contains(err.Error(), fault.Method) {
			t.Errorf("the error does not name the failed call %s: %s", fault.Method, err)
		}
	}
	journalConsistent(t, cfg)
	if err != nil {
		if err := runFaulted(cfg, faults.New(faults.Fault{})); err != nil {
			t.Fatalf("rerun on the healthy token: %v", err)
		}
	}
	finishedWhole(t, cfg, tok, srv)
}

// wipe destroys every object on tok, so that the next case starts on an
// empty token, through the library itself (the seam hands it over).
func wipe(t *testing.T, tok testenv.Token) {
	t.Helper()
	var p11 hsm.PKCS11
	s, err := hsm.Connect(context.Background(), tok.Module, hsm.TokenSelector{Label: tok.Label},
		func(context.Context) ([]byte, error) { return []byte(tok.PIN), nil },
		hsm.WithPKCS11(func(p hsm.PKCS11) hsm.PKCS11 { p11 = p; return p }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Login state is per application: this session is logged in too.
	sh, err := p11.OpenSession(s.Token().SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer p11.CloseSession(sh)
	if err := p11.FindObjectsInit(sh, nil); err != nil {
		t.Fatal(err)
	}
	hs, _, err := p11.FindObjects(sh, 1000)
	p11.FindObjectsFinal(sh)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if err := p11.DestroyObject(sh, h); err != nil {
			t.Fatal(err)
		}
	}
}

// oneClearLine: the error is one line that names the step it stopped in and
// what the token said.
func oneClearLine(t *testing.T, err error, ckrName string) {
	t.Helper()
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Fatalf("the error is not one line:\n%s", msg)
	}
	if !strings.HasPrefix(msg, "step ") && !strings.HasPrefix(msg, "preflight: ") && !strings.HasPrefix(msg, "seal the journal: ") {
		t.Errorf("the error does not say which step failed: %s", msg)
	}
	if !strings.Contains(msg, ckrName) {
		t.Errorf("the error does not carry the token's %s: %s", ckrName, msg)
	}
}

// journalConsistent: the journal a failed run left reads back and verifies
// as far as it goes.
func journalConsistent(t *testing.T, cfg *config.Config) {
	t.Helper()
	audittest.JournalConsistent(t, filepath.Join(cfg.OutputDir(), transcript.FileName))
}

// finishedWhole: the token holds exactly one private key, public key and
// certificate under each declared label and nothing else, the transcript
// verifies against the output's CA with every artifact in place, and the
// repository was published once (root.json v1, then v2 for the snapshot key).
func finishedWhole(t *testing.T, cfg *config.Config, tok testenv.Token, srv serverReader) {
	t.Helper()
	audittest.OneKeyPerLabel(t, tok, "ca", "transcript", "root")
	res, err := audit.VerifyOutput(context.Background(), cfg.OutputDir())
	if err != nil || !res.OK {
		t.Fatalf("the transcript does not verify: %v %+v", err, res.Failure)
	}
	gun := cfg.Repositories[0].GUN
	raw, code, err := srv.Get(context.Background(), "/v2/"+gun+"/_trust/tuf/root.json")
	var root struct{ Signed struct{ Version int } }
	if err != nil || code != 200 || json.Unmarshal(raw, &root) != nil || root.Signed.Version != 2 {
		t.Fatalf("root.json of %s: status %d, version %d, %v", gun, code, root.Signed.Version, err)
	}
}

// serverReader reads what a notary server holds: *testenv.NotaryServer
// anonymously, tokenReader behind token authentication.
type serverReader interface {
	Get(ctx context.Context, path string) ([]byte, int, error)
}

// lostReply lets the kth call of one state-changing function reach the
// token, then reports CKR_DEVICE_ERROR: the key or object exists, but the
// reply that said so was lost (a USB glitch, a network HSM's timeout).
type lostReply struct {
	hsm.PKCS11
	method string
	k      int
	n      *atomic.Int64
}

func (l lostReply) lose(method string) bool {
	return method == l.method && l.n.Add(1) == int64(l.k)
}

func (l lostReply) GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error) {
	pub, priv, err := l.PKCS11.GenerateKeyPair(sh, m, public, private)
	if err == nil && l.lose("C_GenerateKeyPair") {
		return 0, 0, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)
	}
	return pub, priv, err
}

func (l lostReply) CreateObject(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	h, err := l.PKCS11.CreateObject(sh, temp)
	if err == nil && l.lose("C_CreateObject") {
		return 0, pkcs11.Error(pkcs11.CKR_DEVICE_ERROR)
	}
	return h, err
}

// TestPKCS11LostReplies: a key pair or certificate object the token made,
// whose reply was lost, is found again by the rerun, never made twice.
func TestPKCS11LostReplies(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	for _, method := range []string{"C_GenerateKeyPair", "C_CreateObject"} {
		for k := 1; k <= 3; k++ { // the ceremony's three keys, and their three certificates
			t.Run(fmt.Sprintf("%s#%d", method, k), func(t *testing.T) {
				t.Parallel()
				tok := testenv.NewToken(t)
				cfg := faultCeremony(t, srv, tok)
				var n atomic.Int64
				err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Version: "test", HSM: []hsm.Option{hsm.WithPKCS11(func(p hsm.PKCS11) hsm.PKCS11 {
					return lostReply{PKCS11: p, method: method, k: k, n: &n}
				})}})
				if err == nil {
					t.Fatalf("the run finished although %s #%d reported a device error", method, k)
				}
				oneClearLine(t, err, "CKR_DEVICE_ERROR")
				journalConsistent(t, cfg)
				if err := runFaulted(cfg, faults.New(faults.Fault{})); err != nil {
					t.Fatalf("rerun on the healthy token: %v", err)
				}
				finishedWhole(t, cfg, tok, srv)
			})
		}
	}
}

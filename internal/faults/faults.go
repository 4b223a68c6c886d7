// Package faults stands between package hsm and a PKCS#11 token and fails a
// chosen call with a chosen return value, so that a test can see what the
// code above does when the token fails at any point:
//
//	in := faults.New(faults.Fault{Call: 7, CKR: pkcs11.CKR_DEVICE_REMOVED, Sticky: true})
//	s, err := hsm.Connect(ctx, module, sel, pin, hsm.WithPKCS11(in.Wrap))
//
// Calls are numbered from 1 across every module the injector wraps, so one
// injector passed to every Open and Connect of a run counts the whole run. A
// zero Fault fails nothing and only records: run once, read Calls, then fail
// each N in turn.
package faults

import (
	"sync"

	"github.com/ceremony-dev/ceremony/hsm"

	"github.com/miekg/pkcs11"
)

// Fault says which call fails and how.
type Fault struct {
	// Call is the number, from 1, of the call that fails; 0 fails none.
	Call int
	// Method, when set, makes Call count only calls of this PKCS#11
	// function ("C_GenerateKeyPair"): the first such call is 1.
	Method string
	// CKR is what the call returns, as pkcs11.Error(CKR): the value
	// miekg/pkcs11 returns, so the code above cannot tell it from the token's.
	CKR uint
	// Sticky fails every call after it too, whatever its function: a removed
	// or broken token keeps failing.
	Sticky bool
}

// Call is one PKCS#11 call as the injector saw it.
type Call struct {
	Method string // the PKCS#11 function, "C_Sign"
	Err    error  // the injected error; nil if the call reached the token
}

// Injector counts the calls of the modules it wraps and fails one (or every
// one from one on). It is safe for concurrent use. A failed call never
// reaches the token: it models a call the token refused, not a lost reply.
type Injector struct {
	mu      sync.Mutex
	fault   Fault
	calls   []Call
	matched int  // calls that Fault.Method selected so far
	tripped bool // a sticky fault has fired
}

// New returns an injector that applies f.
func New(f Fault) *Injector { return &Injector{fault: f} }

// Reset forgets the calls so far and applies f from the next call on: a test
// can set a session up unharmed, then count only what it exercises.
func (in *Injector) Reset(f Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.fault, in.calls, in.matched, in.tripped = f, nil, 0, false
}

// Calls returns the calls made so far, in order: Calls()[N-1] is call N.
func (in *Injector) Calls() []Call {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Call(nil), in.calls...)
}

// Wrap is the hsm.WithPKCS11 wrapper: every call through the result is
// counted, and the chosen one fails.
func (in *Injector) Wrap(p hsm.PKCS11) hsm.PKCS11 { return wrapped{in: in, p: p} }

// enter records a call of method and returns the error to inject, if any.
func (in *Injector) enter(method string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	err := in.decide(method)
	in.calls = append(in.calls, Call{Method: method, Err: err})
	return err
}

func (in *Injector) decide(method string) error {
	f := in.fault
	if in.tripped {
		return pkcs11.Error(f.CKR)
	}
	if f.Call == 0 || (f.Method != "" && f.Method != method) {
		return nil
	}
	in.matched++
	if in.matched != f.Call {
		return nil
	}
	in.tripped = f.Sticky
	return pkcs11.Error(f.CKR)
}

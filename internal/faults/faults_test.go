package faults_test

import (
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/faults"

	"github.com/miekg/pkcs11"
)

// stub is a library whose C_GetInfo and C_Sign succeed and are counted; any
// other call panics (the embedded interface is nil), so a test notices a call
// that should have been stopped.
type stub struct {
	hsm.PKCS11
	reached atomic.Int64
}

func (s *stub) GetInfo() (pkcs11.Info, error) { s.reached.Add(1); return pkcs11.Info{}, nil }
func (s *stub) Sign(pkcs11.SessionHandle, []byte) ([]byte, error) {
	s.reached.Add(1)
	return []byte{1}, nil
}

// call makes the i-th call of a fixed sequence: C_GetInfo, C_Sign, C_GetInfo, ...
func call(p hsm.PKCS11, i int) error {
	if i%2 == 0 {
		_, err := p.GetInfo()
		return err
	}
	_, err := p.Sign(0, nil)
	return err
}

func TestInjector(t *testing.T) {
	t.Parallel()
	const ckr = pkcs11.CKR_DEVICE_ERROR
	tests := []struct {
		name  string
		fault faults.Fault
		fail  []int // the call numbers (from 1) that must fail, of 6
	}{
		{"record only", faults.Fault{}, nil},
		{"first", faults.Fault{Call: 1, CKR: ckr}, []int{1}},
		{"third only", faults.Fault{Call: 3, CKR: ckr}, []int{3}},
		{"past the end", faults.Fault{Call: 7, CKR: ckr}, nil},
		{"sticky", faults.Fault{Call: 4, CKR: ckr, Sticky: true}, []int{4, 5, 6}},
		{"second C_Sign", faults.Fault{Call: 2, Method: "C_Sign", CKR: ckr}, []int{4}},
		{"second C_Sign sticky", faults.Fault{Call: 2, Method: "C_Sign", CKR: ckr, Sticky: true}, []int{4, 5, 6}},
		{"method never called", faults.Fault{Call: 1, Method: "C_Login", CKR: ckr}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lib := &stub{}
			in := faults.New(tc.fault)
			p := in.Wrap(lib)
			want := map[int]bool{}
			for _, n := range tc.fail {
				want[n] = true
			}
			for i := range 6 {
				err := call(p, i)
				if got := err != nil; got != want[i+1] {
					t.Fatalf("call %d: err %v, want failure %v", i+1, err, want[i+1])
				}
				if err != nil && !errors.Is(err, pkcs11.Error(ckr)) {
					t.Fatalf("call %d: %v is not pkcs11.Error(CKR_DEVICE_ERROR)", i+1, err)
				}
			}
			calls := in.Calls()
			if len(calls) != 6 || int(lib.reached.Load()) != 6-len(tc.fail) {
				t.Fatalf("%d calls recorded, %d reached the library; want 6 and %d", len(calls), lib.reached.Load(), 6-len(tc.fail))
			}
			for i, c := range calls {
				method := map[bool]string{true: "C_GetInfo", false: "C_Sign"}[i%2 == 0]
				if c.Method != method || (c.Err != nil) != want[i+1] {
					t.Fatalf("call %d recorded as %+v, want %s failing %v", i+1, c, method, want[i+1])
				}
			}
		})
	}
}

// TestInjectorReset: calls before Reset are forgotten and do not count
// towards the new fault; a tripped sticky fault is cleared.
func TestInjectorReset(t *testing.T) {
	t.Parallel()
	in := faults.New(faults.Fault{Call: 1, CKR: pkcs11.CKR_DEVICE_REMOVED, Sticky: true})
	p := in.Wrap(&stub{})
	for i := range 3 {
		if call(p, i) == nil {
			t.Fatalf("call %d passed a tripped sticky fault", i+1)
		}
	}
	in.Reset(faults.Fault{Call: 2, CKR: pkcs11.CKR_GENERAL_ERROR})
	if err := call(p, 0); err != nil {
		t.Fatalf("first call after Reset: %v", err)
	}
	if err := call(p, 1); !errors.Is(err, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR)) {
		t.Fatalf("second call after Reset: %v", err)
	}
	if n := len(in.Calls()); n != 2 {
		t.Fatalf("%d calls recorded after Reset, want 2", n)
	}
}

// TestInjectorConcurrent: hsm signs from many goroutines; every call is
// counted once and exactly one fails.
func TestInjectorConcurrent(t *testing.T) {
	t.Parallel()
	const workers, each = 8, 200
	lib := &stub{}
	in := faults.New(faults.Fault{Call: 777, CKR: pkcs11.CKR_DEVICE_ERROR})
	p := in.Wrap(lib)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if call(p, w+i) != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	calls := in.Calls()
	if len(calls) != workers*each || failed.Load() != 1 || calls[776].Err == nil || lib.reached.Load() != workers*each-1 {
		t.Fatalf("%d calls, %d failed, call 777 %+v, %d reached", len(calls), failed.Load(), calls[776], lib.reached.Load())
	}
}

// TestWrapNamesEveryMethod calls every method of hsm.PKCS11 through a wrapper
// whose sticky fault stops them all before the (absent) library: each must
// fail with the injected pkcs11.Error and be recorded under its PKCS#11 name.
func TestWrapNamesEveryMethod(t *testing.T) {
	t.Parallel()
	in := faults.New(faults.Fault{Call: 1, CKR: pkcs11.CKR_DEVICE_REMOVED, Sticky: true})
	p := reflect.ValueOf(in.Wrap(nil))
	iface := reflect.TypeFor[hsm.PKCS11]()
	for i := range iface.NumMethod() {
		m := iface.Method(i)
		fn := p.MethodByName(m.Name)
		args := make([]reflect.Value, fn.Type().NumIn())
		for j := range args {
			args[j] = reflect.Zero(fn.Type().In(j))
		}
		out := fn.Call(args)
		err, _ := out[len(out)-1].Interface().(error)
		if !errors.Is(err, pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED)) {
			t.Errorf("%s: err %v, want the injected CKR_DEVICE_REMOVED", m.Name, err)
		}
		if calls := in.Calls(); calls[len(calls)-1].Method != "C_"+m.Name {
			t.Errorf("%s recorded as %q", m.Name, calls[len(calls)-1].Method)
		}
	}
}

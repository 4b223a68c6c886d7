package hsm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// Sentinel errors let callers (the steps engine, notary's key store) react to a
// class of failure without parsing messages: a wrong PIN must become notary's
// password error, a missing key its "key not found", and so on.
var (
	ErrModule         = errors.New("PKCS#11 module cannot be used")
	ErrTokenNotFound  = errors.New("token not found")
	ErrTokenAmbiguous = errors.New("more than one token matches")
	ErrPINIncorrect   = errors.New("PIN incorrect")
	ErrPINLocked      = errors.New("PIN locked")
	ErrLabelInUse     = errors.New("label already in use")
	ErrKeyNotFound    = errors.New("key not found")
	ErrKeyAmbiguous   = errors.New("more than one key matches")
	ErrKeyUnsafe      = errors.New("key attributes are not safe")
)

// isCKR reports whether err is the PKCS#11 return value rv.
func isCKR(err error, rv uint) bool {
	var p11 pkcs11.Error
	return errors.As(err, &p11) && uint(p11) == rv
}

// PINError is a failed login. It names the token and what the token's own
// flags say about the remaining tries, and never carries the PIN itself.
type PINError struct {
	Token string
	Flags uint
	Err   error // ErrPINIncorrect or ErrPINLocked
}

func (e *PINError) Error() string {
	var state []string
	if e.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
		state = append(state, "the user PIN is now locked: the security officer must unlock it")
	} else if e.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0 {
		state = append(state, "one try is left before the PIN locks")
	} else if e.Flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0 {
		state = append(state, "the token reports few tries left")
	} else {
		state = append(state, "the token reports no retry-counter warning")
	}
	what := "wrong PIN"
	if errors.Is(e.Err, ErrPINLocked) {
		what = "PIN locked"
	}
	return fmt.Sprintf("token %q: %s (%s); check the PIN source, it was not retried",
		e.Token, what, strings.Join(state, ", "))
}

func (e *PINError) Unwrap() error { return e.Err }

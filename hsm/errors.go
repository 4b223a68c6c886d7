package hsm

import (
	"errors"
	"fmt"

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
	ErrSessionLost    = errors.New("session with the token lost")
	ErrMechanism      = errors.New("unsupported by the token")
)

// isCKR reports whether err is the PKCS#11 return value rv.
func isCKR(err error, rv uint) bool {
	var p11 pkcs11.Error
	return errors.As(err, &p11) && uint(p11) == rv
}

// sessionLost reports whether err says the session is gone: closed by the
// token or by another program of this process (C_CloseAllSessions), or the
// token removed.
func sessionLost(err error) bool {
	for _, rv := range []uint{pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_TOKEN_NOT_PRESENT} {
		if isCKR(err, rv) {
			return true
		}
	}
	return false
}

// TokenFailed reports whether err is the token, its session or its library
// failing, rather than a refusal of what was asked: nothing more is worth
// asking of it, and a list of problems should stop at this one.
func TokenFailed(err error) bool { return failing(err) }

// failing reports whether err is about the session, device or library rather
// than the object or attribute a call asked about.
func failing(err error) bool {
	for _, rv := range []uint{pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_DEVICE_MEMORY, pkcs11.CKR_GENERAL_ERROR, pkcs11.CKR_HOST_MEMORY, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED} {
		if isCKR(err, rv) {
			return true
		}
	}
	return sessionLost(err)
}

// lost adds to an error that says the session is gone what happened and what
// to do. The session is not reopened here: its login went with it, a new
// C_Login needs the PIN (only an HMAC of it is kept), and a token that was
// removed or reset wants a person to look at it before a ceremony goes on.
func (s *Session) lost(err error) error {
	if !sessionLost(err) {
		return err
	}
	return fmt.Errorf("%w (%w: token %q was removed, reset, or its sessions were closed; nothing was retried: reconnect it and run the command again, a ceremony resumes where it stopped)", err, ErrSessionLost, s.token.Label)
}

// PINError is a failed login. It names the token and what the token's own
// flags say about the remaining tries, and never carries the PIN itself. It
// is terminal: whoever gets it stops, because tokens lock the PIN after a few
// wrong tries (tpm2-pkcs11 locks the whole TPM after three) and PKCS#11 does
// not say after how many.
type PINError struct {
	Token string
	Flags uint
	Err   error // ErrPINIncorrect or ErrPINLocked
}

func (e *PINError) Error() string {
	var state string
	switch {
	case e.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0:
		state = "the user PIN is now locked: the security officer must unlock it"
	case e.Flags&pkcs11.CKF_USER_PIN_FINAL_TRY != 0:
		state = "one try is left before the PIN locks"
	case e.Flags&pkcs11.CKF_USER_PIN_COUNT_LOW != 0:
		state = "the token reports few tries left"
	default:
		state = "the token reports no retry-counter warning"
	}
	if errors.Is(e.Err, ErrPINLocked) {
		return fmt.Sprintf("PIN locked on token %q (%s); nothing was retried", e.Token, state)
	}
	return fmt.Sprintf("wrong PIN for token %q; the token locks after a few wrong tries (%s), nothing was retried: check the PIN source and run again",
		e.Token, state)
}

func (e *PINError) Unwrap() error { return e.Err }

// IsPINError reports whether err is a wrong or locked PIN: a failure no
// caller may answer with another login.
func IsPINError(err error) bool {
	return errors.Is(err, ErrPINIncorrect) || errors.Is(err, ErrPINLocked)
}

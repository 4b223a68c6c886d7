package hsm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/miekg/pkcs11"
)

// Session is one read-write session on one token. A PKCS#11 session runs one
// operation at a time, so every call takes mu: keys found through a session
// are then safe for concurrent use.
type Session struct {
	mod   *Module
	token TokenInfo
	mu    sync.Mutex
	sh    pkcs11.SessionHandle
	open  bool
	// mechs is the token's mechanism list, read at first need.
	mechs map[uint]bool
	// ownsModule: Connect opened the module for this session alone, so
	// closing the session releases it too.
	ownsModule bool
}

// Connect opens the module at path, opens a session on the token sel names
// and logs in with the PIN pin returns (read only once the token is found,
// so an operator is not asked for a PIN for a token that is not there). The
// session owns the module: Close releases both. Options are Open's.
func Connect(ctx context.Context, path string, sel TokenSelector, pin func(context.Context) ([]byte, error), opts ...Option) (*Session, error) {
	mod, err := Open(path, opts...)
	if err != nil {
		return nil, err
	}
	s, err := mod.OpenSession(ctx, sel)
	if err != nil {
		mod.Close()
		return nil, err
	}
	s.ownsModule = true
	p, err := pin(ctx)
	if err == nil {
		err = s.Login(ctx, p)
		clear(p)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenSession opens a read-write session on the token the selector names.
func (m *Module) OpenSession(ctx context.Context, sel TokenSelector) (*Session, error) {
	t, err := m.FindToken(ctx, sel)
	if err != nil {
		return nil, err
	}
	sh, err := m.p11.OpenSession(t.SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return nil, fmt.Errorf("token %q: open session: C_OpenSession: %w", t.Label, err)
	}
	return &Session{mod: m, token: t, sh: sh, open: true}, nil
}

// Token is the token this session is on, as found when it opened.
func (s *Session) Token() TokenInfo { return s.token }

// Module is the module this session belongs to.
func (s *Session) Module() *Module { return s.mod }

func (s *Session) c() PKCS11 { return s.mod.p11 }

// Close logs nothing out (login state is per application and other sessions
// may share it) and closes the session, and the module if Connect opened it.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return nil
	}
	s.open = false
	err := s.c().CloseSession(s.sh)
	if s.ownsModule {
		s.mod.Close()
	}
	if err != nil {
		return fmt.Errorf("token %q: close session: %w", s.token.Label, err)
	}
	return nil
}

// Login logs the user in with pin. A wrong PIN is returned as a *PINError that
// reports the token's retry flags; it is never retried here, because every try
// brings a real HSM closer to locking the PIN.
func (s *Session) Login(ctx context.Context, pin []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token.Flags&pkcs11.CKF_USER_PIN_LOCKED != 0 {
		return &PINError{Token: s.token.Label, Flags: s.token.Flags, Err: ErrPINLocked}
	}
	err := s.c().Login(s.sh, pkcs11.CKU_USER, string(pin))
	switch {
	case err == nil:
		s.mod.lib.rememberLogin(s.token, pin)
		return nil
	case isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN):
		// The token did not check this PIN; compare it with the one that
		// logged in, so a wrong PIN is never reported as verified.
		if same, known := s.mod.lib.sameLogin(s.token, pin); known && !same {
			return &PINError{Token: s.token.Label, Flags: s.token.Flags, Err: ErrPINIncorrect}
		}
		return nil
	case isCKR(err, pkcs11.CKR_PIN_INCORRECT), isCKR(err, pkcs11.CKR_PIN_INVALID), isCKR(err, pkcs11.CKR_PIN_LEN_RANGE):
		return &PINError{Token: s.token.Label, Flags: s.refreshFlags(), Err: ErrPINIncorrect}
	case isCKR(err, pkcs11.CKR_PIN_LOCKED):
		return &PINError{Token: s.token.Label, Flags: s.refreshFlags() | pkcs11.CKF_USER_PIN_LOCKED, Err: ErrPINLocked}
	default:
		return fmt.Errorf("token %q: login: C_Login: %w", s.token.Label, s.lost(err))
	}
}

// refreshFlags re-reads the token flags: the retry counters change with each
// failed login.
func (s *Session) refreshFlags() uint {
	ti, err := s.c().GetTokenInfo(s.token.SlotID)
	if err != nil {
		return s.token.Flags
	}
	s.token.Flags = ti.Flags
	return ti.Flags
}

// offers reports whether the token lists mechanism m.
func (s *Session) offers(m uint) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mechs == nil {
		list, err := s.c().GetMechanismList(s.token.SlotID)
		if err != nil {
			return false, fmt.Errorf("token %q: C_GetMechanismList: %w", s.token.Label, s.lost(err))
		}
		s.mechs = map[uint]bool{}
		for _, m := range list {
			s.mechs[m.Mechanism] = true
		}
	}
	return s.mechs[m], nil
}

// Random returns n bytes from the token's own generator (C_GenerateRandom):
// key IDs and certificate serials come from the HSM, not the host.
func (s *Session) Random(ctx context.Context, n int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.c().GenerateRandom(s.sh, n)
	if err != nil {
		return nil, fmt.Errorf("token %q: C_GenerateRandom: %w", s.token.Label, s.lost(err))
	}
	if len(b) != n {
		return nil, fmt.Errorf("token %q: C_GenerateRandom returned %d bytes, want %d", s.token.Label, len(b), n)
	}
	return b, nil
}

// Rand is the token's generator as an io.Reader, for APIs that take one.
func (s *Session) Rand(ctx context.Context) io.Reader { return tokenReader{s: s, ctx: ctx} }

type tokenReader struct {
	s   *Session
	ctx context.Context
}

func (r tokenReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	b, err := r.s.Random(r.ctx, len(p))
	if err != nil {
		return 0, err
	}
	return copy(p, b), nil
}

// findObjects returns every handle that matches the template. The caller holds mu.
func (s *Session) findObjects(tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	c := s.c()
	if err := c.FindObjectsInit(s.sh, tmpl); err != nil {
		return nil, fmt.Errorf("C_FindObjectsInit: %w", s.lost(err))
	}
	var out []pkcs11.ObjectHandle
	var ferr error
	for {
		hs, _, err := c.FindObjects(s.sh, 64)
		if err != nil {
			ferr = fmt.Errorf("C_FindObjects: %w", s.lost(err))
			break
		}
		if len(hs) == 0 {
			break
		}
		out = append(out, hs...)
	}
	if err := c.FindObjectsFinal(s.sh); err != nil && ferr == nil {
		ferr = fmt.Errorf("C_FindObjectsFinal: %w", s.lost(err))
	}
	return out, ferr
}

// attrs reads the attributes of one object; attributes the token refuses to
// reveal (sensitive, or unknown to it) come back absent instead of failing the
// whole read, because tokens differ in what they answer.
func (s *Session) attrs(h pkcs11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	got, err := s.c().GetAttributeValue(s.sh, h, tmpl)
	if err == nil {
		out := make(map[uint][]byte, len(got))
		for _, a := range got {
			out[a.Type] = a.Value
		}
		return out, nil
	}
	if !isCKR(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) && !isCKR(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) {
		return nil, fmt.Errorf("C_GetAttributeValue: %w", s.lost(err))
	}
	// Ask one at a time to learn which ones the token answers. A token may
	// refuse one attribute in its own words, but a failing session or device
	// is not a refusal: taken for one, it would read as an absent attribute
	// and report a sound key unsafe or its EC point malformed.
	out := map[uint][]byte{}
	for _, t := range types {
		got, err := s.c().GetAttributeValue(s.sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(t, nil)})
		if err != nil {
			var p11 pkcs11.Error
			if errors.As(err, &p11) && !failing(err) {
				continue
			}
			return nil, fmt.Errorf("C_GetAttributeValue: %w", s.lost(err))
		}
		out[t] = got[0].Value
	}
	return out, nil
}

func boolAttr(m map[uint][]byte, t uint) (val, ok bool) {
	v, ok := m[t]
	if !ok || len(v) != 1 {
		return false, false
	}
	return v[0] != 0, true
}

func ulongAttr(m map[uint][]byte, t uint) (uint, bool) {
	v, ok := m[t]
	if !ok || len(v) == 0 {
		return 0, false
	}
	// A CK_ULONG arrives as the host's native bytes.
	switch len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v)), true
	case 4:
		return uint(binary.NativeEndian.Uint32(v)), true
	}
	return 0, false
}

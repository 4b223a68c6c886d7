// Package hsm is the PKCS#11 layer of the ceremony: it loads a module, picks a
// token by label, logs in, generates non-extractable key pairs, finds keys,
// signs through crypto.Signer and stores certificate objects next to keys.
package hsm

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/miekg/pkcs11"
)

// A PKCS#11 library is initialised once per process: a second C_Initialize
// returns CKR_CRYPTOKI_ALREADY_INITIALIZED and C_Finalize pulls the ground from
// under every other user. The registry below is therefore the one piece of
// process-wide state in this package, reference-counted by Open and Close.
var registry = struct {
	sync.Mutex
	libs map[string]*library
}{libs: map[string]*library{}}

type library struct {
	path string
	ctx  *pkcs11.Ctx
	refs int
	// mu serialises the token-wide operations that PKCS#11 does not make
	// atomic: picking a free slot and initialising its token, checking that a
	// label is free and generating a key under it.
	mu sync.Mutex

	// Login state is per application, not per session: once one session is
	// logged in, C_Login on another returns CKR_USER_ALREADY_LOGGED_IN
	// whatever PIN it is given. To still tell a wrong PIN, the library keeps,
	// per token (loginKey), an HMAC (under a random per-process key) of the PIN
	// that logged in; never the PIN.
	loginMu  sync.Mutex
	loginKey []byte
	logins   map[string][]byte
}

// Module is an opened PKCS#11 library. Close it when done; the library is
// finalised when its last user closes it.
type Module struct {
	lib *library
	// p11 is what this handle calls: the library's own *pkcs11.Ctx, or a
	// test's wrapper around it (WithPKCS11).
	p11    PKCS11
	once   sync.Once
	closed bool
}

// Open loads the PKCS#11 library at path. Options apply to the returned
// handle alone, never to the library other handles share.
func Open(path string, opts ...Option) (*Module, error) {
	lib, err := acquire(path)
	if err != nil {
		return nil, err
	}
	m := &Module{lib: lib, p11: lib.ctx}
	for _, o := range opts {
		o(m)
	}
	return m, nil
}

// acquire returns the initialised library at path, loading it on first use,
// and counts one more user.
func acquire(path string) (*library, error) {
	if path == "" {
		return nil, errors.New("no PKCS#11 module named: give the library's path")
	}
	registry.Lock()
	defer registry.Unlock()
	if lib, ok := registry.libs[path]; ok {
		lib.refs++
		return lib, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("module %s: %w: file does not exist; install the vendor's PKCS#11 library or give its path (hsm.module in the config, --module on the command line)", path, ErrModule)
		}
		return nil, fmt.Errorf("module %s: %w: %v", path, ErrModule, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("module %s: %w: is a directory, not a shared library", path, ErrModule)
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("module %s: %w: not a PKCS#11 library (it does not load or has no C_GetFunctionList)", path, ErrModule)
	}
	if err := ctx.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("module %s: %w: C_Initialize: %w", path, ErrModule, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		ctx.Destroy()
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	lib := &library{path: path, ctx: ctx, refs: 1, loginKey: key, logins: map[string][]byte{}}
	registry.libs[path] = lib
	return lib, nil
}

// Path is the library's file path.
func (m *Module) Path() string { return m.lib.path }

// Close releases the module; the last Close finalises the library.
func (m *Module) Close() error {
	var err error
	m.once.Do(func() {
		registry.Lock()
		defer registry.Unlock()
		m.closed = true
		m.lib.refs--
		if m.lib.refs > 0 {
			return
		}
		delete(registry.libs, m.lib.path)
		if ferr := m.lib.ctx.Finalize(); ferr != nil {
			err = fmt.Errorf("module %s: C_Finalize: %w", m.lib.path, ferr)
		}
		m.lib.ctx.Destroy()
	})
	return err
}

// ModuleInfo is what C_GetInfo says about the library.
type ModuleInfo struct {
	Manufacturer   string
	Description    string
	LibraryVersion string
	Cryptoki       string
}

// Info reads the library's C_GetInfo.
func (m *Module) Info() (ModuleInfo, error) {
	in, err := m.p11.GetInfo()
	if err != nil {
		return ModuleInfo{}, fmt.Errorf("module %s: C_GetInfo: %w", m.lib.path, err)
	}
	return ModuleInfo{
		Manufacturer:   trim(in.ManufacturerID),
		Description:    trim(in.LibraryDescription),
		LibraryVersion: fmt.Sprintf("%d.%d", in.LibraryVersion.Major, in.LibraryVersion.Minor),
		Cryptoki:       fmt.Sprintf("%d.%d", in.CryptokiVersion.Major, in.CryptokiVersion.Minor),
	}, nil
}

func (l *library) pinMAC(pin []byte) []byte {
	m := hmac.New(sha256.New, l.loginKey)
	m.Write(pin)
	return m.Sum(nil)
}

// loginKey names a token for the login memory. The serial alone is not
// enough: every tpm2-pkcs11 token reports serial 0000000000000000, so one
// token's login would be taken for another's and a right PIN reported wrong.
// Slot IDs are stable within a process; the label is what an operator names.
func loginKey(t TokenInfo) string {
	return fmt.Sprintf("%d\x00%s\x00%s", t.SlotID, t.Serial, t.Label)
}

// rememberLogin records that pin logged in to token t.
func (l *library) rememberLogin(t TokenInfo, pin []byte) {
	l.loginMu.Lock()
	defer l.loginMu.Unlock()
	l.logins[loginKey(t)] = l.pinMAC(pin)
}

// sameLogin reports whether pin is the PIN that logged in to token t, and
// whether this process logged it in at all.
func (l *library) sameLogin(t TokenInfo, pin []byte) (same, known bool) {
	l.loginMu.Lock()
	defer l.loginMu.Unlock()
	mac, ok := l.logins[loginKey(t)]
	if !ok {
		return false, false
	}
	return hmac.Equal(mac, l.pinMAC(pin)), true
}

// Package hsm is the PKCS#11 layer of the ceremony: it loads a module, picks a
// token by label, logs in, generates non-extractable key pairs, finds keys,
// signs through crypto.Signer and stores certificate objects next to keys.
package hsm

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/miekg/pkcs11"
)

// DefaultModule is SoftHSM2's library as Debian installs it; it is the module
// used when none is named, so a trainer's rehearsal needs no flags.
const DefaultModule = "/usr/lib/softhsm/libsofthsm2.so"

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
	// atomic, like picking a free slot and initialising its token.
	mu sync.Mutex
}

// Module is an opened PKCS#11 library. Close it when done; the library is
// finalised when its last user closes it.
type Module struct {
	lib    *library
	once   sync.Once
	closed bool
}

// Open loads the PKCS#11 library at path (DefaultModule when empty).
func Open(path string) (*Module, error) {
	if path == "" {
		path = DefaultModule
	}
	registry.Lock()
	defer registry.Unlock()
	if lib, ok := registry.libs[path]; ok {
		lib.refs++
		return &Module{lib: lib}, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("module %s: %w: file does not exist; install the vendor's PKCS#11 library or pass --module with its path", path, ErrModule)
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
		return nil, fmt.Errorf("module %s: %w: C_Initialize: %s", path, ErrModule, ckrName(err))
	}
	lib := &library{path: path, ctx: ctx, refs: 1}
	registry.libs[path] = lib
	return &Module{lib: lib}, nil
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
			err = fmt.Errorf("module %s: C_Finalize: %s", m.lib.path, ckrName(ferr))
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
	in, err := m.lib.ctx.GetInfo()
	if err != nil {
		return ModuleInfo{}, fmt.Errorf("module %s: C_GetInfo: %s", m.lib.path, ckrName(err))
	}
	return ModuleInfo{
		Manufacturer:   trim(in.ManufacturerID),
		Description:    trim(in.LibraryDescription),
		LibraryVersion: fmt.Sprintf("%d.%d", in.LibraryVersion.Major, in.LibraryVersion.Minor),
		Cryptoki:       fmt.Sprintf("%d.%d", in.CryptokiVersion.Major, in.CryptokiVersion.Minor),
	}, nil
}

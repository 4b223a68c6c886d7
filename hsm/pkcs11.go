package hsm

import "github.com/miekg/pkcs11"

// PKCS11 is every PKCS#11 call this package makes through an opened Module:
// exactly the methods of *pkcs11.Ctx it uses, so that a test can stand
// between the package and the token (internal/faults fails the Nth call).
// *pkcs11.Ctx satisfies it and production passes it unwrapped.
//
// C_Initialize and C_Finalize are not in it: they belong to the process-wide
// library that every Module shares, not to one Module.
type PKCS11 interface {
	GetInfo() (pkcs11.Info, error)
	GetSlotList(tokenPresent bool) ([]uint, error)
	GetTokenInfo(slotID uint) (pkcs11.TokenInfo, error)
	GetMechanismList(slotID uint) ([]*pkcs11.Mechanism, error)
	GetMechanismInfo(slotID uint, m []*pkcs11.Mechanism) (pkcs11.MechanismInfo, error)
	InitToken(slotID uint, pin string, label string) error
	InitPIN(sh pkcs11.SessionHandle, pin string) error
	OpenSession(slotID uint, flags uint) (pkcs11.SessionHandle, error)
	CloseSession(sh pkcs11.SessionHandle) error
	Login(sh pkcs11.SessionHandle, userType uint, pin string) error
	Logout(sh pkcs11.SessionHandle) error
	GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error)
	FindObjectsInit(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) error
	FindObjects(sh pkcs11.SessionHandle, max int) ([]pkcs11.ObjectHandle, bool, error)
	FindObjectsFinal(sh pkcs11.SessionHandle) error
	GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error)
	GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error)
	CreateObject(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error)
	DestroyObject(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle) error
	SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error
	Sign(sh pkcs11.SessionHandle, message []byte) ([]byte, error)
}

var _ PKCS11 = (*pkcs11.Ctx)(nil)

// Option changes how Open (or Connect) opens a module.
type Option func(*Module)

// WithPKCS11 routes every PKCS#11 call of the opened Module, and of every
// Session and Key made from it, through wrap(the library). Only this Module
// handle sees the wrapper: the library, its login state and other Modules
// on the same path are untouched. It exists for fault-injection tests.
func WithPKCS11(wrap func(PKCS11) PKCS11) Option {
	return func(m *Module) { m.p11 = wrap(m.p11) }
}

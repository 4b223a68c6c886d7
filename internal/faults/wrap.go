package faults

import (
	"github.com/ceremony-dev/ceremony/hsm"

	"github.com/miekg/pkcs11"
)

// wrapped is one module's library behind the injector. Each method asks the
// injector first and only then, if it is let through, calls the library.
type wrapped struct {
	in *Injector
	p  hsm.PKCS11
}

func (w wrapped) GetInfo() (pkcs11.Info, error) {
	if err := w.in.enter("C_GetInfo"); err != nil {
		return pkcs11.Info{}, err
	}
	return w.p.GetInfo()
}

func (w wrapped) GetSlotList(tokenPresent bool) ([]uint, error) {
	if err := w.in.enter("C_GetSlotList"); err != nil {
		return nil, err
	}
	return w.p.GetSlotList(tokenPresent)
}

func (w wrapped) GetTokenInfo(slotID uint) (pkcs11.TokenInfo, error) {
	if err := w.in.enter("C_GetTokenInfo"); err != nil {
		return pkcs11.TokenInfo{}, err
	}
	return w.p.GetTokenInfo(slotID)
}

func (w wrapped) GetMechanismList(slotID uint) ([]*pkcs11.Mechanism, error) {
	if err := w.in.enter("C_GetMechanismList"); err != nil {
		return nil, err
	}
	return w.p.GetMechanismList(slotID)
}

func (w wrapped) GetMechanismInfo(slotID uint, m []*pkcs11.Mechanism) (pkcs11.MechanismInfo, error) {
	if err := w.in.enter("C_GetMechanismInfo"); err != nil {
		return pkcs11.MechanismInfo{}, err
	}
	return w.p.GetMechanismInfo(slotID, m)
}

func (w wrapped) InitToken(slotID uint, pin string, label string) error {
	if err := w.in.enter("C_InitToken"); err != nil {
		return err
	}
	return w.p.InitToken(slotID, pin, label)
}

func (w wrapped) InitPIN(sh pkcs11.SessionHandle, pin string) error {
	if err := w.in.enter("C_InitPIN"); err != nil {
		return err
	}
	return w.p.InitPIN(sh, pin)
}

func (w wrapped) OpenSession(slotID uint, flags uint) (pkcs11.SessionHandle, error) {
	if err := w.in.enter("C_OpenSession"); err != nil {
		return 0, err
	}
	return w.p.OpenSession(slotID, flags)
}

func (w wrapped) CloseSession(sh pkcs11.SessionHandle) error {
	if err := w.in.enter("C_CloseSession"); err != nil {
		return err
	}
	return w.p.CloseSession(sh)
}

func (w wrapped) Login(sh pkcs11.SessionHandle, userType uint, pin string) error {
	if err := w.in.enter("C_Login"); err != nil {
		return err
	}
	return w.p.Login(sh, userType, pin)
}

func (w wrapped) Logout(sh pkcs11.SessionHandle) error {
	if err := w.in.enter("C_Logout"); err != nil {
		return err
	}
	return w.p.Logout(sh)
}

func (w wrapped) GenerateRandom(sh pkcs11.SessionHandle, length int) ([]byte, error) {
	if err := w.in.enter("C_GenerateRandom"); err != nil {
		return nil, err
	}
	return w.p.GenerateRandom(sh, length)
}

func (w wrapped) FindObjectsInit(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) error {
	if err := w.in.enter("C_FindObjectsInit"); err != nil {
		return err
	}
	return w.p.FindObjectsInit(sh, temp)
}

func (w wrapped) FindObjects(sh pkcs11.SessionHandle, max int) ([]pkcs11.ObjectHandle, bool, error) {
	if err := w.in.enter("C_FindObjects"); err != nil {
		return nil, false, err
	}
	return w.p.FindObjects(sh, max)
}

func (w wrapped) FindObjectsFinal(sh pkcs11.SessionHandle) error {
	if err := w.in.enter("C_FindObjectsFinal"); err != nil {
		return err
	}
	return w.p.FindObjectsFinal(sh)
}

func (w wrapped) GetAttributeValue(sh pkcs11.SessionHandle, o pkcs11.ObjectHandle, a []*pkcs11.Attribute) ([]*pkcs11.Attribute, error) {
	if err := w.in.enter("C_GetAttributeValue"); err != nil {
		return nil, err
	}
	return w.p.GetAttributeValue(sh, o, a)
}

func (w wrapped) GenerateKeyPair(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, public, private []*pkcs11.Attribute) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error) {
	if err := w.in.enter("C_GenerateKeyPair"); err != nil {
		return 0, 0, err
	}
	return w.p.GenerateKeyPair(sh, m, public, private)
}

func (w wrapped) CreateObject(sh pkcs11.SessionHandle, temp []*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
	if err := w.in.enter("C_CreateObject"); err != nil {
		return 0, err
	}
	return w.p.CreateObject(sh, temp)
}

func (w wrapped) DestroyObject(sh pkcs11.SessionHandle, oh pkcs11.ObjectHandle) error {
	if err := w.in.enter("C_DestroyObject"); err != nil {
		return err
	}
	return w.p.DestroyObject(sh, oh)
}

func (w wrapped) SignInit(sh pkcs11.SessionHandle, m []*pkcs11.Mechanism, o pkcs11.ObjectHandle) error {
	if err := w.in.enter("C_SignInit"); err != nil {
		return err
	}
	return w.p.SignInit(sh, m, o)
}

func (w wrapped) Sign(sh pkcs11.SessionHandle, message []byte) ([]byte, error) {
	if err := w.in.enter("C_Sign"); err != nil {
		return nil, err
	}
	return w.p.Sign(sh, message)
}

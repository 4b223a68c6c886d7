package hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/miekg/pkcs11"
)

// KeySpec asks for one key pair.
type KeySpec struct {
	Label string
	Type  keyspec.Type
}

// GenerateKey makes a key pair inside the token: private key on the token,
// private, sensitive and not extractable, sign-only; public key verify-only;
// both under Label with one CKA_ID drawn from the token's generator. It then
// reads the attributes back and makes a test signature; a pair that fails
// either check is destroyed and an error returned, so no unsafe key is ever
// handed on.
func (s *Session) GenerateKey(ctx context.Context, spec KeySpec) (*Key, error) {
	k, err := s.generate(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("generate key %q (%s): %w", spec.Label, spec.Type, err)
	}
	return k, nil
}

func (s *Session) generate(ctx context.Context, spec KeySpec) (*Key, error) {
	if spec.Label == "" {
		return nil, fmt.Errorf("empty label")
	}
	if spec.Type.Bits() == 0 {
		return nil, fmt.Errorf("unknown key type %q", spec.Type)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A size the token does not make is refused here, in the token's own
	// terms, and not by a C_GenerateKeyPair error that names no limit.
	if problems := s.supports(spec.Type); len(problems) > 0 {
		return nil, problems[0]
	}
	// Checking that the label is free and generating under it must be one
	// step, or two callers could both find it free.
	s.mod.lib.mu.Lock()
	defer s.mod.lib.mu.Unlock()
	if used, err := s.labelUsed(spec.Label); err != nil {
		return nil, err
	} else if used {
		return nil, fmt.Errorf("%w: token %q already holds an object labelled %q; choose another label or resume the ceremony that made it", ErrLabelInUse, s.token.Label, spec.Label)
	}
	id, err := s.Random(ctx, 8)
	if err != nil {
		return nil, err
	}
	pubH, privH, err := s.generatePair(spec, id)
	if err != nil {
		return nil, err
	}
	// The pair exists now: check it to the end even if ctx is cancelled
	// meanwhile (an RSA-4096 generation is long), rather than destroy a good
	// key because the operator pressed Ctrl-C a moment too late.
	k, err := s.checkNew(context.WithoutCancel(ctx), spec, id, pubH, privH)
	if err == nil {
		return k, nil
	}
	if derr := s.destroy(pubH, privH); derr != nil {
		return nil, fmt.Errorf("%w; the new pair could not be destroyed (%v): objects labelled %q may remain on the token, `ceremony hsm list` shows them", err, derr, spec.Label)
	}
	return nil, fmt.Errorf("%w (the new pair was destroyed)", err)
}

// generatePair calls C_GenerateKeyPair, first with usage attributes that
// forbid everything but signing, then, if the token rejects such a template
// (some HSMs reject attributes they do not expect), with the bare minimum.
// SoftHSM2 needs the first: left alone it lets an EC key derive and an RSA
// key decrypt and unwrap.
func (s *Session) generatePair(spec KeySpec, id []byte) (pkcs11.ObjectHandle, pkcs11.ObjectHandle, error) {
	pub, priv, mech := templates(spec, id)
	strictPub := append(pub, pkcs11.NewAttribute(pkcs11.CKA_WRAP, false))
	strictPriv := append(priv, pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false), pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false))
	if spec.Type.IsEC() {
		strictPriv = append(strictPriv, pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pubH, privH, err := s.c().GenerateKeyPair(s.sh, mech, strictPub, strictPriv)
	if isCKR(err, pkcs11.CKR_TEMPLATE_INCONSISTENT) || isCKR(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) || isCKR(err, pkcs11.CKR_ATTRIBUTE_VALUE_INVALID) {
		pubH, privH, err = s.c().GenerateKeyPair(s.sh, mech, pub, priv)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("C_GenerateKeyPair: %w", s.lost(err))
	}
	return pubH, privH, nil
}

// templates are the attributes every token must accept. The public key's
// usage (CKA_VERIFY, CKA_ENCRYPT) is left to the token: tpm2-pkcs11 derives
// it from the private key's (public VERIFY is private DECRYPT there, public
// ENCRYPT private SIGN) and refuses a pair where the two disagree, so a
// public VERIFY=true beside a private DECRYPT=false fails with
// CKR_GENERAL_ERROR. Nothing here verifies on the token; the public key is
// only read.
func templates(spec KeySpec, id []byte) (pub, priv []*pkcs11.Attribute, mech []*pkcs11.Mechanism) {
	pub = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, spec.Label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	priv = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, spec.Label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	if spec.Type.IsEC() {
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC), pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, ecParams(spec.Type)))
		priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC))
		return pub, priv, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}
	}
	pub = append(pub,
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, spec.Type.Bits()),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	priv = append(priv, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA))
	return pub, priv, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}
}

// checkNew verifies a freshly generated pair: the public parameters are what
// was asked for, the token says the private key is safe, and it signs a test
// message that the public key verifies.
func (s *Session) checkNew(ctx context.Context, spec KeySpec, id []byte, pubH, privH pkcs11.ObjectHandle) (*Key, error) {
	s.mu.Lock()
	pub, typ, err := s.readPublic(pubH)
	if err == nil {
		var attrs Attributes
		attrs, err = s.readAttributes(privH)
		s.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("read back attributes: %w", err)
		}
		if typ != spec.Type {
			return nil, fmt.Errorf("token made a %s key, %s was asked for", typ, spec.Type)
		}
		if err := attrs.Safe(); err != nil {
			return nil, err
		}
		k := &Key{s: s, priv: privH, Label: spec.Label, ID: id, Type: typ, Attrs: attrs, public: pub}
		if err := SelfTest(ctx, k); err != nil {
			return nil, err
		}
		return k, nil
	}
	s.mu.Unlock()
	return nil, fmt.Errorf("read back public key: %w", err)
}

// SelfTest signs a fixed, domain-separated message (it cannot be mistaken for
// a certificate or TUF metadata) and verifies the signature with the public
// key read from the token: it catches a wrong EC point encoding or a key that
// does not sign before anything depends on it.
func SelfTest(ctx context.Context, k *Key) error {
	msg := []byte("ceremony key self-test\x00" + k.Label + "\x00")
	digest := sha256.Sum256(msg)
	sig, err := k.SignMessageContext(ctx, msg, crypto.SHA256)
	if err != nil {
		return fmt.Errorf("self-test signature: %w", err)
	}
	switch pub := k.public.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return fmt.Errorf("self-test: ECDSA signature does not verify with the token's public key")
		}
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			return fmt.Errorf("self-test: RSA signature does not verify with the token's public key: %w", err)
		}
	default:
		return fmt.Errorf("self-test: unsupported public key %T", pub)
	}
	return nil
}

// destroy destroys every object it can and returns the first failure: the
// caller reports it after the error that led here, so that nobody is told
// a pair is gone while it is still on the token.
func (s *Session) destroy(hs ...pkcs11.ObjectHandle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, h := range hs {
		if err := s.c().DestroyObject(s.sh, h); err != nil && first == nil {
			first = fmt.Errorf("C_DestroyObject: %w", err)
		}
	}
	return first
}

// labelUsed reports whether any object on the token carries the label.
func (s *Session) labelUsed(label string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs, err := s.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)})
	if err != nil {
		return false, fmt.Errorf("search label %q: %w", label, err)
	}
	return len(hs) > 0, nil
}

package transcript

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

// Signature algorithms, by the signer's key (docs/transcript.md):
//   - ECDSA P-256: ASN.1 DER (r, s) over SHA-256 of the PAE;
//   - ECDSA P-384: ASN.1 DER (r, s) over SHA-384 of the PAE;
//   - RSA: PKCS #1 v1.5 over SHA-256 of the PAE.
//
// The ECDSA choice is go-securesystemslib's own (signerverifier/ecdsa.go), so
// its verifiers accept our lines.

// hashFor is the digest a key signs the PAE with.
func hashFor(pub crypto.PublicKey) (crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, nil
		case elliptic.P384():
			return crypto.SHA384, nil
		}
		return 0, fmt.Errorf("unsupported curve %s (P-256 or P-384)", k.Curve.Params().Name)
	case *rsa.PublicKey:
		return crypto.SHA256, nil
	}
	return 0, fmt.Errorf("unsupported key type %T (ECDSA or RSA)", pub)
}

// KeySigner signs lines with a crypto.Signer: the transcript key in the token
// (bound to the context by WithContext), or a witness's key.
type KeySigner struct {
	key  func(ctx context.Context) crypto.Signer
	id   string
	hash crypto.Hash
}

// NewSigner makes a line signer over key. bind, when not nil, returns the key
// bound to a context (hsm.Key.WithContext), so a token signature obeys the
// caller's cancellation.
func NewSigner(key crypto.Signer, bind func(context.Context) crypto.Signer) (*KeySigner, error) {
	id, err := keyspec.KeyID(key.Public())
	if err != nil {
		return nil, err
	}
	h, err := hashFor(key.Public())
	if err != nil {
		return nil, fmt.Errorf("transcript signer: %w", err)
	}
	if bind == nil {
		bind = func(context.Context) crypto.Signer { return key }
	}
	return &KeySigner{key: bind, id: id, hash: h}, nil
}

// KeyID is the signer's key ID (keyspec.KeyID).
func (s *KeySigner) KeyID() string { return s.id }

// Sign signs pae, then verifies the signature before handing it out: a
// line that does not verify is never written.
func (s *KeySigner) Sign(ctx context.Context, pae []byte) ([]byte, error) {
	key := s.key(ctx)
	// The whole PAE, not its digest: a token key hashes it itself where it
	// can (an RSA key on tpm2-pkcs11 signs no bare digest); a software key
	// is hashed here.
	sig, err := crypto.SignMessage(key, nil, pae, s.hash)
	if err != nil {
		return nil, err
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); ok {
		if sig, err = lowS(pub, sig); err != nil {
			return nil, err
		}
	}
	if err := VerifySignature(key.Public(), pae, sig); err != nil {
		return nil, fmt.Errorf("the signer's own signature does not verify: %w", err)
	}
	return sig, nil
}

// VerifySignature checks sig over pae with pub, by the algorithm the key's
// type fixes.
func VerifySignature(pub crypto.PublicKey, pae, sig []byte) error {
	hash, err := hashFor(pub)
	if err != nil {
		return err
	}
	h := hash.New()
	h.Write(pae)
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("bad ECDSA signature")
		}
		if low, err := lowS(k, sig); err != nil || !bytes.Equal(low, sig) {
			return errors.New("ECDSA signature with a high S: only the low-S form is valid here")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, hash, digest, sig)
	}
	return fmt.Errorf("unsupported key type %T", pub)
}

// lowS returns the ECDSA signature with s in the lower half of the group
// order. (r, s) and (r, n-s) both verify, so anyone could flip a line's
// signature without the key, changing the line's bytes and detaching the
// witness lines that sign the seal's digest; one form only closes that.
func lowS(pub *ecdsa.PublicKey, sig []byte) ([]byte, error) {
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("ECDSA signature is not one DER SEQUENCE of two INTEGERs")
	}
	n := pub.Curve.Params().N
	if rs.S.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		return sig, nil
	}
	rs.S = new(big.Int).Sub(n, rs.S)
	return asn1.Marshal(rs)
}

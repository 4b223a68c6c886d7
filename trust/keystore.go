// Package trust runs the Notary (Docker Content Trust) side of the ceremony
// with notary's v0.7.0 client library: a PKCS#11 key store that notary's
// crypto service accepts, so the root key signs inside the token; repository
// init, snapshot rotation to the server, delegations; the delegate's signing
// of an image manifest and the check of notary's target against the registry.
package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/theupdateframework/notary/trustmanager"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/signed"

	"github.com/ceremony-dev/ceremony/hsm"
)

// The roles a token key can sign for, so that callers need not import
// notary's data package.
// (notary's own names are variables, not constants).
const (
	RootRole    data.RoleName = "root"
	TargetsRole data.RoleName = "targets"
)

// KeyRef names a token key notary may sign with, and the role it signs for.
type KeyRef struct {
	Key hsm.KeySelector // label and/or CKA_ID
	URI *hsm.URI        // alternative to Key: an RFC 7512 URI (it must name this token)
	// Role is data.CanonicalRootRole, data.CanonicalTargetsRole or a
	// delegation role (a delegate's token key).
	Role data.RoleName
	// GUN scopes a targets or delegation key to one repository; empty for
	// root keys, which serve every repository.
	GUN data.GUN
	// RSAPKCS1v15 signs with RSASSA-PKCS1-v1_5 instead of RSASSA-PSS. A
	// token without RSA-PSS (hsm.Key.CanPSS) gets it anyway. Ignored for EC
	// keys.
	RSAPKCS1v15 bool
}

// KeyStore is a notary trustmanager.KeyStore over keys in a PKCS#11 token.
// It lists only the keys it was given, under their canonical key IDs (the
// IDs `notary key list` shows), never imports a key (AddKey refuses, so
// notary's software keys land in the next store, the file store) and never
// destroys one (RemoveKey is a no-op).
type KeyStore struct {
	name string
	keys map[string]*tokenKey
}

// NewKeyStore finds each referenced key on the token behind s. When pin is
// not nil it first logs in with it; a wrong PIN is returned as an error that
// is both *hsm.PINError (with the token's retry flags) and notary's
// trustmanager.ErrPasswordInvalid. Otherwise s must be logged in already.
func NewKeyStore(ctx context.Context, s *hsm.Session, pin []byte, refs ...KeyRef) (*KeyStore, error) {
	label := s.Token().Label
	if pin != nil {
		if err := s.Login(ctx, pin); err != nil {
			return nil, fmt.Errorf("pkcs11 key store %q: %w", label, passwordError(err))
		}
	}
	ks := &KeyStore{name: "pkcs11:" + label, keys: map[string]*tokenKey{}}
	for _, ref := range refs {
		k, err := findKey(ctx, s, ref)
		if err != nil {
			return nil, fmt.Errorf("pkcs11 key store %q: %w", label, err)
		}
		tk, err := newTokenKey(k, ref)
		if err != nil {
			return nil, fmt.Errorf("pkcs11 key store %q: key %q: %w", label, k.Label, err)
		}
		if prev, ok := ks.keys[tk.ID()]; ok && prev.role != tk.role {
			return nil, fmt.Errorf("pkcs11 key store %q: key %q is given for both %s and %s", label, k.Label, prev.role, tk.role)
		}
		ks.keys[tk.ID()] = tk
	}
	return ks, nil
}

func findKey(ctx context.Context, s *hsm.Session, ref KeyRef) (*hsm.Key, error) {
	switch {
	case ref.Role == "" || !(ref.Role == data.CanonicalRootRole || ref.Role == data.CanonicalTargetsRole || data.IsDelegation(ref.Role)):
		return nil, fmt.Errorf("role %q: a token key can sign for root, targets or a targets/... delegation", ref.Role)
	case ref.URI != nil:
		return s.FindKeyURI(ctx, ref.URI)
	default:
		return s.FindKey(ctx, ref.Key)
	}
}

// passwordError makes a failed login notary's password error, so notary's
// crypto service stops at it instead of reading it as "key not found here,
// try the next store", while keeping hsm's message about remaining tries.
func passwordError(err error) error {
	var pe *hsm.PINError
	if errors.As(err, &pe) {
		return pinError{pe}
	}
	return err
}

type pinError struct{ *hsm.PINError }

func (e pinError) Unwrap() []error {
	return []error{e.PINError, trustmanager.ErrPasswordInvalid{}}
}

// withContext is the store with token calls bound to ctx, for one operation.
func (ks *KeyStore) withContext(ctx context.Context) *KeyStore {
	c := *ks
	c.keys = make(map[string]*tokenKey, len(ks.keys))
	for id, k := range ks.keys {
		kc := *k
		kc.ctx = ctx
		c.keys[id] = &kc
	}
	return &c
}

// Name is shown as the LOCATION of the keys.
func (ks *KeyStore) Name() string { return ks.name }

// ListKeys maps each canonical key ID to its role and GUN.
func (ks *KeyStore) ListKeys() map[string]trustmanager.KeyInfo {
	out := make(map[string]trustmanager.KeyInfo, len(ks.keys))
	for id, k := range ks.keys {
		out[id] = trustmanager.KeyInfo{Role: k.role, Gun: k.gun}
	}
	return out
}

// IDs lists the canonical key IDs of the store, sorted.
func (ks *KeyStore) IDs() []string {
	ids := make([]string, 0, len(ks.keys))
	for id := range ks.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// targetsKey is the token's targets key for gun (or for every GUN), if any.
func (ks *KeyStore) targetsKey(gun data.GUN) *tokenKey {
	for _, id := range ks.IDs() {
		if k := ks.keys[id]; k.role == data.CanonicalTargetsRole && (k.gun == gun || k.gun == "") {
			return k
		}
	}
	return nil
}

// GetKey returns the token key with this canonical ID and its role, or
// trustmanager.ErrKeyNotFound, which tells notary to look in the next store.
func (ks *KeyStore) GetKey(keyID string) (data.PrivateKey, data.RoleName, error) {
	k, ok := ks.keys[keyID]
	if !ok {
		return nil, "", trustmanager.ErrKeyNotFound{KeyID: keyID}
	}
	return k, k.role, nil
}

// GetKeyInfo returns the role and GUN of a key of this store.
func (ks *KeyStore) GetKeyInfo(keyID string) (trustmanager.KeyInfo, error) {
	k, ok := ks.keys[keyID]
	if !ok {
		return trustmanager.KeyInfo{}, trustmanager.ErrKeyNotFound{KeyID: keyID}
	}
	return trustmanager.KeyInfo{Role: k.role, Gun: k.gun}, nil
}

// AddKey refuses every key it does not already hold: a software key is never
// imported into the token. notary's crypto service then adds it to the next
// store (the passphrase-protected file store).
func (ks *KeyStore) AddKey(info trustmanager.KeyInfo, key data.PrivateKey) error {
	if _, ok := ks.keys[key.ID()]; ok {
		return nil
	}
	return fmt.Errorf("%s: software %s key %s is not imported into the token", ks.name, info.Role, key.ID())
}

// RemoveKey never destroys a token object. notary calls it on every store
// for the keys a rotation retires (tuf/tuf.go RemoveBaseKeys), and a token
// key outlives any one repository; the key stays listed.
func (ks *KeyStore) RemoveKey(string) error { return nil }

var _ trustmanager.KeyStore = (*KeyStore)(nil)

// tokenKey is a data.PrivateKey that signs inside the token. Its public half
// is the canonical notary key (ecdsa or rsa over the PKIX public key), so its
// ID is the canonical key ID notary's crypto service looks keys up by.
type tokenKey struct {
	data.PublicKey
	key    *hsm.Key
	ctx    context.Context
	role   data.RoleName
	gun    data.GUN
	sigAlg data.SigAlgorithm
	// verifier checks every signature with notary's own verifier before it is
	// handed on: a token that returns a malformed signature fails here, not
	// on the server or in a client years later.
	verifier signed.Verifier
}

func newTokenKey(k *hsm.Key, ref KeyRef) (*tokenKey, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	tk := &tokenKey{key: k, ctx: context.Background(), role: ref.Role, gun: ref.GUN}
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		tk.PublicKey, tk.sigAlg = data.NewECDSAPublicKey(der), data.ECDSASignature
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: notary requires 2048 or more", pub.N.BitLen())
		}
		tk.PublicKey, tk.sigAlg = data.NewRSAPublicKey(der), data.RSAPSSSignature
		// notary verifies both schemes; a token that lists no RSA-PSS
		// (tpm2-pkcs11) signs PKCS#1 v1.5.
		pss, err := k.CanPSS()
		if err != nil {
			return nil, err
		}
		if ref.RSAPKCS1v15 || !pss {
			tk.sigAlg = data.RSAPKCS1v15Signature
		}
	default:
		return nil, fmt.Errorf("unsupported public key %T", pub)
	}
	if ref.Role == data.CanonicalRootRole {
		tk.gun = "" // like notary's stores: root keys belong to no one repository
	}
	tk.verifier = signed.Verifiers[tk.sigAlg]
	return tk, nil
}

// Sign signs the whole message: SHA-256 of msg inside the token, ECDSA as
// raw r||s left-padded to the curve size, RSA as PSS (salt = hash length) or
// PKCS#1 v1.5. rand and opts are ignored, as in notary's own keys.
func (k *tokenKey) Sign(_ io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	var opts crypto.SignerOpts = crypto.SHA256
	if k.sigAlg == data.RSAPSSSignature {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	sig, err := k.key.SignMessageRaw(k.ctx, msg, opts)
	if err != nil {
		return nil, fmt.Errorf("sign %s metadata with token key %q: %w", k.role, k.key.Label, err)
	}
	if ec, ok := k.key.Public().(*ecdsa.PublicKey); ok {
		if sig, err = padRS(sig, (ec.Curve.Params().BitSize+7)/8); err != nil {
			return nil, fmt.Errorf("sign %s metadata with token key %q: %w", k.role, k.key.Label, err)
		}
	}
	if err := k.verifier.Verify(k.PublicKey, sig, msg); err != nil {
		return nil, fmt.Errorf("sign %s metadata with token key %q: the token's signature does not verify: %w", k.role, k.key.Label, err)
	}
	return sig, nil
}

// padRS left-pads each half of a PKCS#11 r||s signature to size bytes. The
// standard already fixes the length; a few tokens strip leading zeros.
func padRS(sig []byte, size int) ([]byte, error) {
	if len(sig) == 2*size {
		return sig, nil
	}
	if len(sig) == 0 || len(sig)%2 != 0 || len(sig) > 2*size {
		return nil, fmt.Errorf("token returned a %d-byte ECDSA signature, want %d", len(sig), 2*size)
	}
	half := len(sig) / 2
	out := make([]byte, 2*size)
	copy(out[size-half:size], sig[:half])
	copy(out[2*size-half:], sig[half:])
	return out, nil
}

// Private is nil: the key never leaves the token.
func (k *tokenKey) Private() []byte { return nil }

// CryptoSigner is the token key as a crypto.Signer (ASN.1 signatures); notary
// uses it only to make certificates.
func (k *tokenKey) CryptoSigner() crypto.Signer { return k.key }

// SignatureAlgorithm is the method written next to each signature.
func (k *tokenKey) SignatureAlgorithm() data.SigAlgorithm { return k.sigAlg }

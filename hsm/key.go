package hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/miekg/pkcs11"
)

// Attributes are the safety attributes of a private key as the token reports
// them. They are the token's own testimony that the key was made inside it and
// can never leave it.
type Attributes struct {
	Token            bool `json:"token"`
	Private          bool `json:"private"`
	Sensitive        bool `json:"sensitive"`
	Extractable      bool `json:"extractable"`
	AlwaysSensitive  bool `json:"alwaysSensitive"`
	NeverExtractable bool `json:"neverExtractable"`
	Local            bool `json:"local"`
}

// Safe reports whether the key is one a ceremony may use: generated on the
// token, sensitive and never extractable.
func (a Attributes) Safe() error {
	var bad []string
	check := func(ok bool, what string) {
		if !ok {
			bad = append(bad, what)
		}
	}
	check(a.Token, "CKA_TOKEN is false")
	check(a.Private, "CKA_PRIVATE is false")
	check(a.Sensitive, "CKA_SENSITIVE is false")
	check(!a.Extractable, "CKA_EXTRACTABLE is true")
	check(a.AlwaysSensitive, "CKA_ALWAYS_SENSITIVE is false")
	check(a.NeverExtractable, "CKA_NEVER_EXTRACTABLE is false")
	check(a.Local, "CKA_LOCAL is false (not generated on the token)")
	if len(bad) > 0 {
		return fmt.Errorf("%w: %v", ErrKeyUnsafe, bad)
	}
	return nil
}

// Key is a private key on the token with its public half. It implements
// crypto.Signer and crypto.MessageSigner: ECDSA signatures come out ASN.1 DER
// encoded, RSA signatures as PKCS#1 v1.5 or, with *rsa.PSSOptions, PSS. It
// is safe for concurrent use.
//
// Give it the message where you can (SignMessage; x509.CreateCertificate
// does): an RSA key is then signed with the token's hash-and-sign mechanism
// (CKM_SHA256_RSA_PKCS), the only RSA signing some tokens allow on a key that
// may not decrypt (tpm2-pkcs11 does raw CKM_RSA_PKCS with TPM2_RSA_Decrypt).
// Sign with a bare digest needs the raw mechanisms.
type Key struct {
	s      *Session
	priv   pkcs11.ObjectHandle
	Label  string
	ID     []byte
	Type   keyspec.Type
	Attrs  Attributes
	public crypto.PublicKey
}

// IDHex is CKA_ID in lower-case hex, as pkcs11-tool prints it.
func (k *Key) IDHex() string { return hex.EncodeToString(k.ID) }

// Public returns the public key read from the token.
func (k *Key) Public() crypto.PublicKey { return k.public }

// Session is the session the key was found through.
func (k *Key) Session() *Session { return k.s }

// Sign signs digest with the token key. rand is ignored: the token has its own.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignContext(context.Background(), digest, opts)
}

// SignMessage hashes msg with opts' hash (on the token where it can) and
// signs it. rand is ignored.
func (k *Key) SignMessage(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.SignMessageContext(context.Background(), msg, opts)
}

// WithContext returns the key as a crypto.Signer (and crypto.MessageSigner)
// whose token calls are bound to ctx: x509.CreateCertificate and friends
// take a Signer and no context.
func (k *Key) WithContext(ctx context.Context) crypto.Signer { return ctxSigner{k: k, ctx: ctx} }

type ctxSigner struct {
	k   *Key
	ctx context.Context
}

func (c ctxSigner) Public() crypto.PublicKey { return c.k.Public() }
func (c ctxSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return c.k.SignContext(c.ctx, digest, opts)
}
func (c ctxSigner) SignMessage(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return c.k.SignMessageContext(c.ctx, msg, opts)
}

// SignContext is Sign with a context for callers that have one.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		opts = crypto.SHA256
	}
	if h := opts.HashFunc(); h != 0 && len(digest) != h.Size() {
		return nil, fmt.Errorf("sign with key %q: digest is %d bytes, %v needs %d", k.Label, len(digest), h, h.Size())
	}
	return k.der(k.SignRaw(ctx, digest, opts))
}

// SignMessageContext is SignMessage with a context.
func (k *Key) SignMessageContext(ctx context.Context, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.der(k.SignMessageRaw(ctx, msg, opts))
}

// der turns an ECDSA r||s into the DER form crypto.Signer promises.
func (k *Key) der(sig []byte, err error) ([]byte, error) {
	if err != nil || !k.Type.IsEC() {
		return sig, err
	}
	return rawToASN1(sig)
}

// SignRaw returns the token's raw signature of a digest: r||s for ECDSA
// (what TUF wants).
func (k *Key) SignRaw(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		opts = crypto.SHA256
	}
	return k.signWith(ctx, func() ([]*pkcs11.Mechanism, []byte, error) { return k.mechanism(digest, opts) })
}

// SignMessageRaw is SignRaw for a whole message: RSA keys are signed with
// the token's hash-and-sign mechanism when it offers one, the rest with the
// digest made here.
func (k *Key) SignMessageRaw(ctx context.Context, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		opts = crypto.SHA256
	}
	return k.signWith(ctx, func() ([]*pkcs11.Mechanism, []byte, error) { return k.messageMechanism(msg, opts) })
}

func (k *Key) signWith(ctx context.Context, pick func() ([]*pkcs11.Mechanism, []byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mech, input, err := pick()
	if err != nil {
		return nil, fmt.Errorf("sign with key %q: %w", k.Label, err)
	}
	sig, err := k.s.sign(k.priv, mech, input)
	if err != nil {
		return nil, fmt.Errorf("sign with key %q: %w", k.Label, err)
	}
	return sig, nil
}

// messageMechanism picks the token's hash-and-sign mechanism for an RSA key
// when the token lists it, and otherwise hashes here and signs the digest.
func (k *Key) messageMechanism(msg []byte, opts crypto.SignerOpts) ([]*pkcs11.Mechanism, []byte, error) {
	h := opts.HashFunc()
	if !h.Available() || digestInfoPrefix[h] == nil {
		return nil, nil, fmt.Errorf("unsupported hash %v", h)
	}
	if !k.Type.IsEC() {
		pss, isPSS := opts.(*rsa.PSSOptions)
		m := hashAndSign[h]
		if isPSS {
			m = hashAndSignPSS[h]
		}
		offered, err := k.s.offers(m)
		if err != nil {
			return nil, nil, err
		}
		if offered && isPSS {
			params, err := pssParams(h, pss)
			return []*pkcs11.Mechanism{pkcs11.NewMechanism(m, params)}, msg, err
		}
		if offered {
			return []*pkcs11.Mechanism{pkcs11.NewMechanism(m, nil)}, msg, nil
		}
	}
	d := h.New()
	d.Write(msg)
	return k.mechanism(d.Sum(nil), opts)
}

// mechanism is the raw mechanism for a digest. A PSS signature on a token
// that does not list CKM_RSA_PKCS_PSS is refused before any call that could
// leave the key unusable (tpm2-pkcs11 cannot destroy a key after a failed
// C_Sign in the same process).
func (k *Key) mechanism(digest []byte, opts crypto.SignerOpts) ([]*pkcs11.Mechanism, []byte, error) {
	if k.Type.IsEC() {
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, digest, nil
	}
	h := opts.HashFunc()
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		offered, err := k.s.offers(pkcs11.CKM_RSA_PKCS_PSS)
		if err != nil {
			return nil, nil, err
		}
		if !offered {
			return nil, nil, fmt.Errorf("token %q offers no RSA-PSS signing (CKM_RSA_PKCS_PSS): sign with PKCS#1 v1.5 (%w)", k.s.token.Label, ErrMechanism)
		}
		params, err := pssParams(h, pss)
		if err != nil {
			return nil, nil, err
		}
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, params)}, digest, nil
	}
	prefix, ok := digestInfoPrefix[h]
	if !ok {
		return nil, nil, fmt.Errorf("unsupported hash %v for RSA PKCS#1 v1.5", h)
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, append(append([]byte{}, prefix...), digest...), nil
}

// CanPSS reports whether the key's token lists an RSA-PSS signing mechanism.
func (k *Key) CanPSS() (bool, error) { return k.s.CanPSS() }

// CanPSS reports whether the token lists an RSA-PSS signing mechanism
// (tpm2-pkcs11 lists none).
func (s *Session) CanPSS() (bool, error) {
	for _, m := range []uint{pkcs11.CKM_RSA_PKCS_PSS, pkcs11.CKM_SHA256_RSA_PKCS_PSS} {
		if ok, err := s.offers(m); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// hashAndSign and hashAndSignPSS are the RSA mechanisms that hash on the token.
var (
	hashAndSign = map[crypto.Hash]uint{
		crypto.SHA256: pkcs11.CKM_SHA256_RSA_PKCS, crypto.SHA384: pkcs11.CKM_SHA384_RSA_PKCS, crypto.SHA512: pkcs11.CKM_SHA512_RSA_PKCS,
	}
	hashAndSignPSS = map[crypto.Hash]uint{
		crypto.SHA256: pkcs11.CKM_SHA256_RSA_PKCS_PSS, crypto.SHA384: pkcs11.CKM_SHA384_RSA_PKCS_PSS, crypto.SHA512: pkcs11.CKM_SHA512_RSA_PKCS_PSS,
	}
)

// digestInfoPrefix is the DER DigestInfo header that CKM_RSA_PKCS expects in
// front of the digest (RFC 8017 §9.2 note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// pssParams are CK_RSA_PKCS_PSS_PARAMS for hash h, MGF1 with the same hash,
// and the salt length opts asks for (the hash's size when it leaves it open).
func pssParams(h crypto.Hash, opts *rsa.PSSOptions) ([]byte, error) {
	var hashMech, mgf uint
	switch h {
	case crypto.SHA256:
		hashMech, mgf = pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256
	case crypto.SHA384:
		hashMech, mgf = pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384
	case crypto.SHA512:
		hashMech, mgf = pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512
	default:
		return nil, fmt.Errorf("unsupported hash %v for RSA-PSS", h)
	}
	salt := opts.SaltLength
	if salt == rsa.PSSSaltLengthAuto || salt == rsa.PSSSaltLengthEqualsHash {
		salt = h.Size()
	}
	return pkcs11.NewPSSParams(hashMech, mgf, uint(salt)), nil
}

func (s *Session) sign(h pkcs11.ObjectHandle, mech []*pkcs11.Mechanism, input []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.c().SignInit(s.sh, mech, h); err != nil {
		return nil, fmt.Errorf("C_SignInit: %w", s.lost(err))
	}
	sig, err := s.c().Sign(s.sh, input)
	if err != nil {
		return nil, fmt.Errorf("C_Sign: %w", s.lost(err))
	}
	return sig, nil
}

// rawToASN1 converts PKCS#11's r||s into the DER form crypto.Signer promises.
func rawToASN1(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("token returned a %d-byte ECDSA signature, not r||s", len(raw))
	}
	n := len(raw) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
}

// readPublic reads the public key of an object (a public key or certificate
// handle found next to the private key).
func (s *Session) readPublic(h pkcs11.ObjectHandle) (crypto.PublicKey, keyspec.Type, error) {
	a, err := s.attrs(h, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
	if err != nil {
		return nil, "", err
	}
	// CKK_RSA is 0: an unanswered CKA_KEY_TYPE must not read as RSA.
	kt, ok := ulongAttr(a, pkcs11.CKA_KEY_TYPE)
	if !ok {
		return nil, "", errors.New("the token does not tell the key's type (CKA_KEY_TYPE)")
	}
	switch kt {
	case pkcs11.CKK_EC:
		curve, err := curveFromParams(a[pkcs11.CKA_EC_PARAMS])
		if err != nil {
			return nil, "", err
		}
		pub, err := parseECPoint(curve, a[pkcs11.CKA_EC_POINT])
		if err != nil {
			return nil, "", err
		}
		t := keyspec.ECDSAP256
		if curve == elliptic.P384() {
			t = keyspec.ECDSAP384
		} else if curve != elliptic.P256() {
			t = keyspec.Type("ecdsa-" + curve.Params().Name)
		}
		return pub, t, nil
	case pkcs11.CKK_RSA:
		n := new(big.Int).SetBytes(a[pkcs11.CKA_MODULUS])
		e := new(big.Int).SetBytes(a[pkcs11.CKA_PUBLIC_EXPONENT])
		if n.Sign() == 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 {
			return nil, "", errors.New("RSA public key has no usable modulus or exponent")
		}
		pub := &rsa.PublicKey{N: n, E: int(e.Int64())}
		return pub, keyspec.Type(fmt.Sprintf("rsa-%d", n.BitLen())), nil
	}
	return nil, "", fmt.Errorf("unsupported key type 0x%x", kt)
}

// parseECPoint accepts CKA_EC_POINT both as the DER OCTET STRING the standard
// asks for (SoftHSM2) and as the raw uncompressed point some vendors return.
func parseECPoint(curve elliptic.Curve, b []byte) (*ecdsa.PublicKey, error) {
	size := (curve.Params().BitSize + 7) / 8
	raw := b
	if len(b) != 1+2*size {
		var inner []byte
		rest, err := asn1.Unmarshal(b, &inner)
		if err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("CKA_EC_POINT is neither a DER OCTET STRING nor a raw point (%d bytes)", len(b))
		}
		raw = inner
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
	if err != nil {
		return nil, fmt.Errorf("CKA_EC_POINT: %w", err)
	}
	return pub, nil
}

// readAttributes reads a private key's safety attributes.
func (s *Session) readAttributes(h pkcs11.ObjectHandle) (Attributes, error) {
	a, err := s.attrs(h, pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE,
		pkcs11.CKA_ALWAYS_SENSITIVE, pkcs11.CKA_NEVER_EXTRACTABLE, pkcs11.CKA_LOCAL)
	if err != nil {
		return Attributes{}, err
	}
	get := func(t uint) bool { v, _ := boolAttr(a, t); return v }
	ext, ok := boolAttr(a, pkcs11.CKA_EXTRACTABLE)
	if !ok {
		ext = true // unknown is reported as the unsafe value
	}
	return Attributes{
		Token:            get(pkcs11.CKA_TOKEN),
		Private:          get(pkcs11.CKA_PRIVATE),
		Sensitive:        get(pkcs11.CKA_SENSITIVE),
		Extractable:      ext,
		AlwaysSensitive:  get(pkcs11.CKA_ALWAYS_SENSITIVE),
		NeverExtractable: get(pkcs11.CKA_NEVER_EXTRACTABLE),
		Local:            get(pkcs11.CKA_LOCAL),
	}, nil
}

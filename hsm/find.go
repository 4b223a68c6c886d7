package hsm

import (
	"context"
	"crypto"
	"encoding/hex"
	"fmt"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/miekg/pkcs11"
)

// KeySelector names a key by label, by CKA_ID, or both.
type KeySelector struct {
	Label string
	ID    []byte
}

func (k KeySelector) String() string {
	switch {
	case k.Label != "" && len(k.ID) > 0:
		return fmt.Sprintf("label %q id %s", k.Label, hex.EncodeToString(k.ID))
	case len(k.ID) > 0:
		return "id " + hex.EncodeToString(k.ID)
	default:
		return fmt.Sprintf("label %q", k.Label)
	}
}

func (k KeySelector) template(class uint) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if k.Label != "" {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_LABEL, k.Label))
	}
	if len(k.ID) > 0 {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_ID, k.ID))
	}
	return t
}

// FindKey returns the one private key the selector names, with its public key
// (from the public key object with the same CKA_ID, else the certificate) and
// its safety attributes. It needs a logged-in session. No match wraps
// ErrKeyNotFound; several matches wrap ErrKeyAmbiguous.
func (s *Session) FindKey(ctx context.Context, sel KeySelector) (*Key, error) {
	if sel.Label == "" && len(sel.ID) == 0 {
		return nil, fmt.Errorf("find key: give a label or an ID")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hs, err := s.findObjects(sel.template(pkcs11.CKO_PRIVATE_KEY))
	if err != nil {
		return nil, fmt.Errorf("find key %s: %w", sel, err)
	}
	switch len(hs) {
	case 0:
		return nil, fmt.Errorf("find key %s on token %q: %w", sel, s.token.Label, ErrKeyNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("find key %s on token %q: %w: %d private keys match; select by id", sel, s.token.Label, ErrKeyAmbiguous, len(hs))
	}
	priv := hs[0]
	a, err := s.attrs(priv, pkcs11.CKA_LABEL, pkcs11.CKA_ID)
	if err != nil {
		return nil, fmt.Errorf("find key %s: %w", sel, err)
	}
	label, id := string(a[pkcs11.CKA_LABEL]), a[pkcs11.CKA_ID]
	pub, typ, err := s.publicFor(id)
	if err != nil {
		return nil, fmt.Errorf("find key %s: public key: %w", sel, err)
	}
	attrs, err := s.readAttributes(priv)
	if err != nil {
		return nil, fmt.Errorf("find key %s: attributes: %w", sel, err)
	}
	return &Key{s: s, priv: priv, Label: label, ID: id, Type: typ, Attrs: attrs, public: pub}, nil
}

// publicFor finds the public half of the key with this CKA_ID: the public key
// object where there is one, else the certificate stored next to it. The
// caller holds mu.
func (s *Session) publicFor(id []byte) (crypto.PublicKey, keyspec.Type, error) {
	if len(id) == 0 {
		return nil, "", fmt.Errorf("private key has no CKA_ID to pair it with its public key")
	}
	hs, err := s.findObjects(KeySelector{ID: id}.template(pkcs11.CKO_PUBLIC_KEY))
	if err != nil {
		return nil, "", err
	}
	if len(hs) == 1 {
		return s.readPublic(hs[0])
	}
	if len(hs) > 1 {
		return nil, "", fmt.Errorf("%d public keys share CKA_ID %x", len(hs), id)
	}
	cert, err := s.certificateFor(id)
	if err != nil {
		return nil, "", err
	}
	if cert == nil {
		return nil, "", fmt.Errorf("no public key or certificate object with CKA_ID %x", id)
	}
	return cert.PublicKey, keyTypeOf(cert.PublicKey), nil
}

// FindKeyURI finds the key an RFC 7512 URI names, after checking that the URI's
// token attributes match this session's token.
func (s *Session) FindKeyURI(ctx context.Context, u *URI) (*Key, error) {
	if !u.MatchesToken(s.token) {
		return nil, fmt.Errorf("find key %s: %w: the URI names another token than %s", u, ErrKeyNotFound, s.token)
	}
	if u.Type != "" && u.Type != "private" {
		return nil, fmt.Errorf("find key %s: type=%s cannot sign; use type=private or leave type out", u, u.Type)
	}
	return s.FindKey(ctx, KeySelector{Label: u.Object, ID: u.ID})
}

package hsm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/miekg/pkcs11"
)

// Object is one object on the token as `hsm list` shows it.
type Object struct {
	Class   string // "private-key", "public-key", "certificate", "secret-key", "data", ...
	Label   string
	ID      []byte
	KeyType string      // "EC P-256", "RSA 3072", ... for keys
	Attrs   *Attributes // private keys only
	Subject string      // certificates only
}

// IDHex is CKA_ID in lower-case hex.
func (o Object) IDHex() string { return hex.EncodeToString(o.ID) }

var classNames = map[uint]string{
	pkcs11.CKO_DATA:        "data",
	pkcs11.CKO_CERTIFICATE: "certificate",
	pkcs11.CKO_PUBLIC_KEY:  "public-key",
	pkcs11.CKO_PRIVATE_KEY: "private-key",
	pkcs11.CKO_SECRET_KEY:  "secret-key",
}

// Objects lists every object the session can see (private objects only after
// Login), sorted by label, then class.
func (s *Session) Objects(ctx context.Context) ([]Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hs, err := s.findObjects(nil)
	if err != nil {
		return nil, fmt.Errorf("list objects on token %q: %w", s.token.Label, err)
	}
	out := make([]Object, 0, len(hs))
	for _, h := range hs {
		o, err := s.describeObject(h)
		if err != nil {
			return nil, fmt.Errorf("list objects on token %q: %w", s.token.Label, err)
		}
		out = append(out, o)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Label != out[j].Label {
			return out[i].Label < out[j].Label
		}
		return out[i].Class < out[j].Class
	})
	return out, nil
}

func (s *Session) describeObject(h pkcs11.ObjectHandle) (Object, error) {
	a, err := s.attrs(h, pkcs11.CKA_CLASS, pkcs11.CKA_LABEL, pkcs11.CKA_ID)
	if err != nil {
		return Object{}, err
	}
	class, _ := ulongAttr(a, pkcs11.CKA_CLASS)
	o := Object{Class: classNames[class], Label: string(a[pkcs11.CKA_LABEL]), ID: a[pkcs11.CKA_ID]}
	if o.Class == "" {
		o.Class = fmt.Sprintf("class-0x%x", class)
	}
	switch class {
	case pkcs11.CKO_PUBLIC_KEY:
		if _, t, err := s.readPublic(h); err == nil {
			o.KeyType = t.Describe()
		}
	case pkcs11.CKO_PRIVATE_KEY:
		attrs, err := s.readAttributes(h)
		if err != nil {
			return Object{}, err
		}
		o.Attrs = &attrs
		o.KeyType = s.privateKeyType(h)
	case pkcs11.CKO_CERTIFICATE:
		v, err := s.attrs(h, pkcs11.CKA_VALUE)
		if err == nil {
			if c, err := x509.ParseCertificate(v[pkcs11.CKA_VALUE]); err == nil {
				o.Subject = c.Subject.String()
				o.KeyType = keyTypeOf(c.PublicKey).Describe()
			}
		}
	}
	return o, nil
}

// privateKeyType describes a private key without reading anything secret: the
// curve for EC keys, the modulus size for RSA keys.
func (s *Session) privateKeyType(h pkcs11.ObjectHandle) string {
	a, err := s.attrs(h, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_MODULUS)
	if err != nil {
		return ""
	}
	kt, ok := ulongAttr(a, pkcs11.CKA_KEY_TYPE)
	if !ok {
		return "" // CKK_RSA is 0: unanswered must not read as RSA
	}
	switch kt {
	case pkcs11.CKK_EC:
		if c, err := curveFromParams(a[pkcs11.CKA_EC_PARAMS]); err == nil {
			return "EC " + c.Params().Name
		}
		return "EC"
	case pkcs11.CKK_RSA:
		if m := a[pkcs11.CKA_MODULUS]; len(m) > 0 {
			return fmt.Sprintf("RSA %d", len(bytes.TrimLeft(m, "\x00"))*8)
		}
		return "RSA"
	}
	return fmt.Sprintf("key-type-0x%x", kt)
}

func keyTypeOf(pub crypto.PublicKey) keyspec.Type {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		switch p.Curve.Params().Name {
		case "P-256":
			return keyspec.ECDSAP256
		case "P-384":
			return keyspec.ECDSAP384
		}
		return keyspec.Type("ecdsa-" + p.Curve.Params().Name)
	case *rsa.PublicKey:
		return keyspec.Type(fmt.Sprintf("rsa-%d", p.N.BitLen()))
	}
	return keyspec.Type(fmt.Sprintf("%T", pub))
}

// StoreCertificate stores cert on the token next to key: same label, same
// CKA_ID (the seed's `ucl import`). The certificate's public key must be the
// key's. Storing the identical certificate twice is a no-op, so a resumed
// ceremony can repeat the step; a different certificate under the same label
// is refused.
func (s *Session) StoreCertificate(ctx context.Context, key *Key, cert *x509.Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !keyspec.SamePublic(key.Public(), cert.PublicKey) {
		return fmt.Errorf("store certificate %q: its public key is not the key's", key.Label)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hs, err := s.findObjects([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, key.Label),
	})
	if err != nil {
		return fmt.Errorf("store certificate %q: %w", key.Label, err)
	}
	for _, h := range hs {
		v, err := s.attrs(h, pkcs11.CKA_VALUE)
		if err != nil {
			return fmt.Errorf("store certificate %q: %w", key.Label, err)
		}
		if bytes.Equal(v[pkcs11.CKA_VALUE], cert.Raw) {
			return nil
		}
	}
	if len(hs) > 0 {
		return fmt.Errorf("store certificate %q: %w: token %q holds a different certificate under that label", key.Label, ErrLabelInUse, s.token.Label)
	}
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return fmt.Errorf("store certificate %q: serial: %w", key.Label, err)
	}
	_, err = s.c().CreateObject(s.sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, key.Label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, key.ID),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
	})
	if err != nil {
		return fmt.Errorf("store certificate %q: C_CreateObject: %w", key.Label, s.lost(err))
	}
	return nil
}

// Certificate returns the certificate stored next to key, or nil if none.
func (s *Session) Certificate(ctx context.Context, key *Key) (*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.certificateFor(key.ID)
	if err != nil {
		return nil, fmt.Errorf("certificate of key %q: %w", key.Label, err)
	}
	return c, nil
}

// certificateFor finds the certificate with this CKA_ID. The caller holds mu.
func (s *Session) certificateFor(id []byte) (*x509.Certificate, error) {
	hs, err := s.findObjects(KeySelector{ID: id}.template(pkcs11.CKO_CERTIFICATE))
	if err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		return nil, nil
	}
	if len(hs) > 1 {
		return nil, fmt.Errorf("%d certificates share CKA_ID %x", len(hs), id)
	}
	v, err := s.attrs(hs[0], pkcs11.CKA_VALUE)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(v[pkcs11.CKA_VALUE])
}

// RemoveOrphanPublicKeys destroys public key objects under label that have no
// private key with the same CKA_ID: the remains of a key generation that was
// interrupted half way. It never touches a private key or a complete pair.
// The steps engine calls it only for labels its own journal says it set out
// to generate.
func (s *Session) RemoveOrphanPublicKeys(ctx context.Context, label string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pubs, err := s.findObjects(KeySelector{Label: label}.template(pkcs11.CKO_PUBLIC_KEY))
	if err != nil {
		return 0, fmt.Errorf("orphan public keys %q: %w", label, err)
	}
	n := 0
	for _, h := range pubs {
		a, err := s.attrs(h, pkcs11.CKA_ID)
		if err != nil {
			return n, fmt.Errorf("orphan public keys %q: %w", label, err)
		}
		privs, err := s.findObjects(KeySelector{ID: a[pkcs11.CKA_ID]}.template(pkcs11.CKO_PRIVATE_KEY))
		if err != nil {
			return n, fmt.Errorf("orphan public keys %q: %w", label, err)
		}
		if len(privs) > 0 || len(a[pkcs11.CKA_ID]) == 0 {
			continue
		}
		if err := s.c().DestroyObject(s.sh, h); err != nil {
			return n, fmt.Errorf("orphan public keys %q: C_DestroyObject: %w", label, s.lost(err))
		}
		n++
	}
	return n, nil
}

// Package keyspec says what a key asked of a token may be: its type and its
// label. It holds no PKCS#11 code, so the config can be parsed and checked on
// a machine (or in a build) without cgo.
package keyspec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
)

// Type is one of the key types a ceremony may ask for.
type Type string

const (
	ECDSAP256 Type = "ecdsa-p256"
	ECDSAP384 Type = "ecdsa-p384"
	RSA2048   Type = "rsa-2048"
	RSA3072   Type = "rsa-3072"
	RSA4096   Type = "rsa-4096"
)

// All lists the supported types in the order an operator reads them.
func All() []Type { return []Type{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096} }

// Parse accepts the config spelling ("ecdsa-p256", "rsa-3072").
func Parse(s string) (Type, error) {
	for _, t := range All() {
		if strings.EqualFold(s, string(t)) {
			return t, nil
		}
	}
	names := make([]string, 0, len(All()))
	for _, t := range All() {
		names = append(names, string(t))
	}
	return "", fmt.Errorf("unknown key type %q: use one of %s", s, strings.Join(names, ", "))
}

// Check is Parse for a value already typed: the config decodes the word as
// written, and validation says whether it names a type.
func (t Type) Check() error {
	_, err := Parse(string(t))
	return err
}

// IsEC reports whether the type is an elliptic-curve key.
func (t Type) IsEC() bool { return t == ECDSAP256 || t == ECDSAP384 }

// Bits is the RSA modulus size or the curve size.
func (t Type) Bits() int {
	switch t {
	case ECDSAP256:
		return 256
	case ECDSAP384:
		return 384
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	}
	return 0
}

// Curve is the elliptic curve of an EC type, nil otherwise.
func (t Type) Curve() elliptic.Curve {
	switch t {
	case ECDSAP256:
		return elliptic.P256()
	case ECDSAP384:
		return elliptic.P384()
	}
	return nil
}

// Describe is the type as a token listing shows it: "EC P-256", "RSA 3072".
func (t Type) Describe() string {
	switch {
	case t.IsEC():
		return "EC " + t.Curve().Params().Name
	case t.Bits() > 0:
		return fmt.Sprintf("RSA %d", t.Bits())
	}
	return string(t)
}

// Throwaway makes a software key of type t, for dry runs and tests. Host
// randomness is fine here: such a key signs nothing anyone will trust.
func (t Type) Throwaway() (crypto.Signer, error) {
	switch {
	case t.IsEC():
		return ecdsa.GenerateKey(t.Curve(), rand.Reader)
	case t.Bits() > 0:
		return rsa.GenerateKey(rand.Reader, t.Bits())
	}
	return nil, fmt.Errorf("throwaway key: %w", t.Check())
}

// SamePublic reports whether a and b are the same public key. The standard
// library's key types all have Equal; a key without it is never the same.
func SamePublic(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// UnmarshalText takes the word as written in any case; Check then says
// whether it names a type, so a config lists every problem at once.
func (t *Type) UnmarshalText(b []byte) error {
	*t = Type(strings.ToLower(strings.TrimSpace(string(b))))
	return nil
}

// MaxLabel is the longest label accepted: PKCS#11 key labels are free-length
// UTF-8, but some vendor HSMs cap them, and a ceremony's labels are short
// words read aloud; 32 bytes is the width of a token's own label.
const MaxLabel = 32

// CheckLabel is the rule for a key label: not empty, no surrounding spaces
// (a token pads its fixed-width fields with spaces, so they would not survive
// a listing), printable, and at most MaxLabel bytes.
func CheckLabel(label string) error {
	switch {
	case label == "":
		return fmt.Errorf("a key label cannot be empty")
	case strings.TrimSpace(label) != label:
		return fmt.Errorf("label %q has surrounding spaces; remove them", label)
	case len(label) > MaxLabel:
		return fmt.Errorf("label %q is %d bytes; tokens take at most %d", label, len(label), MaxLabel)
	}
	for _, r := range label {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("label %q holds the unprintable character %U", label, r)
		}
	}
	return nil
}

// KeyID names a public key the way the transcript and witnesses do:
// "sha256:" and the hex SHA-256 of its DER SubjectPublicKeyInfo, which
// `openssl pkey -pubin -outform DER | sha256sum` reproduces.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("key ID: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

package hsm

import (
	"crypto/elliptic"
	"encoding/asn1"
	"fmt"
	"strings"
)

// KeyType is one of the key types a ceremony may ask for.
type KeyType string

const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	RSA4096   KeyType = "rsa-4096"
)

// KeyTypes lists the supported types in the order an operator reads them.
func KeyTypes() []KeyType { return []KeyType{ECDSAP256, ECDSAP384, RSA2048, RSA3072, RSA4096} }

// ParseKeyType accepts the config spelling ("ecdsa-p256", "rsa-3072").
func ParseKeyType(s string) (KeyType, error) {
	for _, t := range KeyTypes() {
		if strings.EqualFold(s, string(t)) {
			return t, nil
		}
	}
	names := make([]string, 0, 5)
	for _, t := range KeyTypes() {
		names = append(names, string(t))
	}
	return "", fmt.Errorf("unknown key type %q: use one of %s", s, strings.Join(names, ", "))
}

// IsEC reports whether the type is an elliptic-curve key.
func (t KeyType) IsEC() bool { return t == ECDSAP256 || t == ECDSAP384 }

// Bits is the RSA modulus size or the curve size.
func (t KeyType) Bits() int {
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
func (t KeyType) Curve() elliptic.Curve {
	switch t {
	case ECDSAP256:
		return elliptic.P256()
	case ECDSAP384:
		return elliptic.P384()
	}
	return nil
}

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// ecParams is the DER CKA_EC_PARAMS (a named-curve OID) for an EC type.
func (t KeyType) ecParams() []byte {
	var oid asn1.ObjectIdentifier
	switch t {
	case ECDSAP256:
		oid = oidP256
	case ECDSAP384:
		oid = oidP384
	default:
		return nil
	}
	der, _ := asn1.Marshal(oid) // marshalling a fixed OID cannot fail
	return der
}

func curveFromParams(der []byte) (elliptic.Curve, error) {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(der, &oid); err != nil {
		return nil, fmt.Errorf("CKA_EC_PARAMS is not a named curve: %w", err)
	}
	switch {
	case oid.Equal(oidP256):
		return elliptic.P256(), nil
	case oid.Equal(oidP384):
		return elliptic.P384(), nil
	case oid.Equal(oidP521):
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("unsupported curve %s", oid)
}

package hsm

import (
	"crypto/elliptic"
	"encoding/asn1"
	"fmt"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

// ecParams is the DER CKA_EC_PARAMS (a named-curve OID) for an EC type.
func ecParams(t keyspec.Type) []byte {
	var oid asn1.ObjectIdentifier
	switch t {
	case keyspec.ECDSAP256:
		oid = oidP256
	case keyspec.ECDSAP384:
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

package steps

import (
	"strings"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
)

// Fingerprint is the SHA-256 of der in groups of four hex digits, for
// witnesses to read aloud and compare with what every client will pin:
// `openssl x509 -noout -fingerprint -sha256` shows the same digits.
func Fingerprint(der []byte) string {
	h := strings.ToUpper(sha256Hex(der))
	groups := make([]string, 0, len(h)/4)
	for i := 0; i < len(h); i += 4 {
		groups = append(groups, h[i:i+4])
	}
	return strings.Join(groups, " ")
}

// uclType is the seed's `ucl generate -t` word for a key type.
func uclType(t keyspec.Type) string {
	if t.IsEC() {
		return "ECC"
	}
	return "RSA"
}

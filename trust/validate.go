package trust

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/theupdateframework/notary/trustpinning"
	"github.com/theupdateframework/notary/tuf/data"
)

// ValidateRootJSON replays offline the check a notary client makes of a
// repository's root.json on first contact: trustpinning.ValidateRoot with no
// previous root, ca pinned for gun and TOFU off. Like the client, notary
// checks the certificates' expiry against the current time.
func ValidateRootJSON(gun string, rootJSON []byte, ca *x509.Certificate) error {
	g, err := checkGUN(gun)
	if err != nil {
		return err
	}
	var signed data.Signed
	if err := json.Unmarshal(rootJSON, &signed); err != nil {
		return fmt.Errorf("root.json of %s: %w", gun, err)
	}
	// notary reads the pinned CA from a file.
	dir, err := os.MkdirTemp("", "ceremony-pin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600); err != nil {
		return err
	}
	pin := trustpinning.TrustPinConfig{CA: map[string]string{gun: caFile}, DisableTOFU: true}
	if _, err := trustpinning.ValidateRoot(nil, &signed, g, pin); err != nil {
		return fmt.Errorf("notary rejects the root.json of %s under the pinned CA: %w", gun, err)
	}
	return nil
}

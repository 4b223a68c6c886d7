// Package scratch makes throwaway real components: a SoftHSM2 token
// directory, a software TPM behind tpm2-pkcs11 (swtpm, a private D-Bus,
// tpm2-abrmd), a notary-server process with TLS from a throwaway CA, an
// in-process OCI registry, and notary as it is deployed (notary-server with
// notary-signer over mutual TLS, PostgreSQL, a token issuer). `ceremony demo` rehearses on them and the tests
// (through internal/testenv) run against them. It has no test-only code, so
// the binary does not link the testing package.
package scratch

import (
	"fmt"
	"os"
	"path/filepath"
)

// SoftHSMModule is SoftHSM2's library where Debian's softhsm2 installs it
// (config.DefaultModule names the same file for operators).
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// WriteSoftHSMConfig makes a SoftHSM2 configuration whose token directory
// lives under dir, and returns the configuration's path. Point SOFTHSM2_CONF
// at it before the module is loaded: SoftHSM2 reads it at C_Initialize only.
func WriteSoftHSMConfig(dir string) (string, error) {
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return "", fmt.Errorf("softhsm token dir: %w", err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", fmt.Errorf("softhsm config: %w", err)
	}
	return conf, nil
}

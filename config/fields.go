package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/trust/names"
)

// The rules of Validate, one function per field, so that the config forms
// check a value as it is typed by the very rule config.Load applies, with
// the very message. Each returns nil or a *FieldError naming the field.

// FieldError is one problem of a config, tied to the key it concerns
// ("ca.days", "repositories[1].gun", "delegations[0]"). Its text is
// "field: problem", one line of Validate's report.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Err: fmt.Errorf(format, a...)}
}

// KeyType is a key type a ceremony may ask of the token (ecdsa-p256, …).
type KeyType = keyspec.Type

// KeyTypes lists the supported key types in the order an operator reads them.
func KeyTypes() []KeyType { return keyspec.All() }

// Validity bounds, in days.
const (
	MaxCADays         = pki.MaxDays
	MaxRootDays       = 3650
	MaxTranscriptDays = pki.MaxDays
	MaxRepoDays       = 3650
)

// Seed defaults a form starts from.
const (
	DefaultCASubject      = pki.DefaultCASubject
	DefaultCADays         = pki.DefaultCADays
	DefaultRootDays       = pki.DefaultRootDays
	DefaultRepoDays       = pki.DefaultRepoDays
	DefaultTranscriptDays = pki.DefaultTranscriptDays
)

// CheckToken: hsm.token names the token by its label.
func CheckToken(label string) error {
	if label == "" {
		return fieldErr("hsm.token", "missing: name the token by its label")
	}
	// A token's label is a label like a key's: printable, at most 32 bytes.
	return CheckLabel("hsm.token", label)
}

// CheckSecretSource: a PIN or passphrase is a source (env:NAME, file:PATH or
// prompt), never the secret itself.
func CheckSecretSource(field, source string) error {
	if _, err := secret.Parse(source); err != nil {
		return fieldErr(field, "%v", err)
	}
	return nil
}

// CheckLabel applies the token's label rule to the label at field
// ("ca.label").
func CheckLabel(field, label string) error {
	if err := keyspec.CheckLabel(label); err != nil {
		return &FieldError{Field: field, Err: err}
	}
	return nil
}

// CheckKeyType: the key type at field ("ca.key") is one of KeyTypes.
func CheckKeyType(field string, t KeyType) error {
	if err := t.Check(); err != nil {
		return &FieldError{Field: field, Err: err}
	}
	return nil
}

// CheckSubject: an RFC 4514 style subject within X.509's bounds.
func CheckSubject(field, subject string) error {
	if _, err := pki.ParseSubject(subject); err != nil {
		return fieldErr(field, "%v", err)
	}
	return nil
}

// CheckDays: a validity of 1 … max days.
func CheckDays(field string, days, max int) error {
	if days < 1 || days > max {
		return fieldErr(field, "%d days is out of range 1..%d", days, max)
	}
	return nil
}

// CheckGUN: a fully qualified, lowercase repository name, as Docker Content
// Trust names it (names.CheckGUN).
func CheckGUN(field, gun string) error {
	if err := names.CheckGUN(gun); err != nil {
		return fieldErr(field, "%v", err)
	}
	return nil
}

// CheckServerURL: notary.url is https://HOST[:PORT].
func CheckServerURL(url string) error {
	if url == "" {
		return fieldErr("notary.url", "missing: give the server as https://HOST[:PORT]")
	}
	if err := names.CheckServerURL(url); err != nil {
		return fieldErr("notary.url", "%v", err)
	}
	return nil
}

// CheckTLSCA: notary.tls_ca, when given, is a file that exists (relative to
// the config's directory).
func (c *Config) CheckTLSCA(tlsCA string) error {
	if tlsCA == "" {
		return nil
	}
	if err := checkFile(c.Path(tlsCA)); err != nil {
		return fieldErr("notary.tls_ca", "%v", err)
	}
	return nil
}

// CheckTrustDir: notary.trust_dir is given.
func CheckTrustDir(dir string) error {
	if dir == "" {
		return fieldErr("notary.trust_dir", "missing")
	}
	return nil
}

// CheckRole: a delegation role notary accepts, directly under targets.
func CheckRole(field, role string) error {
	if err := names.CheckDelegation(role); err != nil {
		return fieldErr(field, "%v", err)
	}
	return nil
}

// CheckSigner: the roles the delegate's key goes into follow docker's rule
// (names.SignerRoles); a docker signer needs every path.
func CheckSigner(field string, d Delegation) error {
	if _, err := d.Roles(); err != nil {
		return fieldErr(field+".paths", "%v", err)
	}
	return nil
}

// CheckCert: a delegate's certificate or public key file that exists
// (relative to the config's directory).
func (c *Config) CheckCert(field, cert string) error {
	if cert == "" {
		return fieldErr(field, "missing: the delegate's certificate or public key (PEM)")
	}
	if err := checkFile(c.Path(cert)); err != nil {
		return fieldErr(field, "%v", err)
	}
	return nil
}

// CheckPaths: "all" or at least one path prefix.
func CheckPaths(field string, p Paths) error {
	if !p.All && len(p.List) == 0 {
		return fieldErr(field, "missing: \"all\" or a list of path prefixes")
	}
	return nil
}

// CheckOutput: the output directory is given.
func CheckOutput(output string) error {
	if output == "" {
		return fieldErr("output", "missing")
	}
	return nil
}

// CheckWitnessName: a witness has a name for the record.
func CheckWitnessName(field, name string) error {
	if strings.TrimSpace(name) == "" {
		return fieldErr(field, "missing: the witness's name as it goes on the record")
	}
	return nil
}

// CheckKeys applies the label and type rules to every key section, and
// refuses two sections that share a label: each key needs its own.
func CheckKeys(keys []KeySection) []error {
	var errs []error
	seen := map[string]string{}
	for _, k := range keys {
		if err := CheckLabel(k.Field+".label", k.Key.Label); err != nil {
			errs = append(errs, err)
		}
		if err := CheckKeyType(k.Field+".key", k.Key.Key); err != nil {
			errs = append(errs, err)
		}
		if other, ok := seen[k.Key.Label]; ok {
			errs = append(errs, fieldErr(k.Field+".label", "%q is %s's label too; every key needs its own label", k.Key.Label, other))
		}
		seen[k.Key.Label] = k.Field
	}
	return errs
}

// CheckRepositories: at least one repository, each GUN valid and listed
// once, each validity in range.
func CheckRepositories(repos []Repository) []error {
	if len(repos) == 0 {
		return []error{fieldErr("repositories", "none: list at least one repository (gun) to certify")}
	}
	var errs []error
	guns := map[string]bool{}
	for i, r := range repos {
		field := fmt.Sprintf("repositories[%d]", i)
		if err := CheckGUN(field+".gun", r.GUN); err != nil {
			errs = append(errs, err)
		}
		if guns[r.GUN] {
			errs = append(errs, fieldErr(field+".gun", "%q is listed twice", r.GUN))
		}
		guns[r.GUN] = true
		if err := CheckDays(field+".days", r.Days, MaxRepoDays); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// CheckDelegations: each delegation names one of the repositories, a role
// delegated once per repository, the delegate's certificate and the paths.
func (c *Config) CheckDelegations() []error {
	var errs []error
	if len(c.Delegations) > 0 && c.Notary == nil {
		errs = append(errs, fieldErr("delegations", "need a notary section: delegations are published to a Notary server"))
	}
	guns := map[string]bool{}
	for _, r := range c.Repositories {
		guns[r.GUN] = true
	}
	roles := map[string]string{}
	for i, d := range c.Delegations {
		field := fmt.Sprintf("delegations[%d]", i)
		if !guns[d.GUN] {
			errs = append(errs, fieldErr(field+".gun", "%q is not one of the repositories", d.GUN))
		}
		if other, ok := roles[d.GUN+" "+d.Role]; ok {
			errs = append(errs, fieldErr(field, "%s of %s is %s already; a role is delegated once: give a second delegate a role of its own", d.Role, d.GUN, other))
		}
		roles[d.GUN+" "+d.Role] = field
		roleErr := CheckRole(field+".role", d.Role)
		if roleErr != nil {
			errs = append(errs, roleErr)
		}
		if err := c.CheckCert(field+".cert", d.Cert); err != nil {
			errs = append(errs, err)
		}
		pathsErr := CheckPaths(field+".paths", d.Paths)
		if pathsErr != nil {
			errs = append(errs, pathsErr)
		}
		if roleErr == nil && pathsErr == nil {
			if err := CheckSigner(field, d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// CheckWitnesses requires each declared witness to have a name and exactly
// one readable key or key ID, and no key declared twice.
func (c *Config) CheckWitnesses() []error {
	var errs []error
	seen := map[string]string{}
	for i, w := range c.Witnesses {
		field := fmt.Sprintf("witnesses[%d]", i)
		if err := CheckWitnessName(field+".name", w.Name); err != nil {
			errs = append(errs, err)
		}
		id, err := c.witnessKeyID(w)
		if err != nil {
			errs = append(errs, &FieldError{Field: field, Err: err})
			continue
		}
		if other, ok := seen[id]; ok {
			errs = append(errs, fieldErr(field, "the same key as %s; each witness signs with a key of their own", other))
		}
		seen[id] = field
	}
	return errs
}

// Problems lists Validate's findings one by one.
func Problems(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			out = append(out, fe)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// Package config reads and checks the ceremony's one input: a YAML file that
// witnesses can review before the event. Unknown keys are errors, every
// problem is reported at once, and nothing here touches a token or a server,
// so a config can be checked anywhere, long before the ceremony.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/trust/names"
	"go.yaml.in/yaml/v3"
)

// Config is the ceremony plan's input (design.md's YAML contract).
type Config struct {
	HSM  HSM `yaml:"hsm" json:"hsm,omitempty"`
	CA   Key `yaml:"ca" json:"ca,omitempty"`
	Root Key `yaml:"root" json:"root,omitempty"`
	// Transcript is the key that signs every line of the transcript; the CA
	// certifies it, so the CA certificate is an auditor's one trust anchor.
	Transcript   Key          `yaml:"transcript" json:"transcript,omitempty"`
	Repositories []Repository `yaml:"repositories" json:"repositories,omitempty"`
	Notary       *Notary      `yaml:"notary,omitempty" json:"notary,omitempty"`
	Delegations  []Delegation `yaml:"delegations,omitempty" json:"delegations,omitempty"`
	Output       string       `yaml:"output" json:"output,omitempty"`
	// Operator is who runs the ceremony at the keyboard, for the record.
	Operator string `yaml:"operator,omitempty" json:"operator,omitempty"`
	// Witnesses are the people declared before the event; only their
	// signatures count towards `verify --require-witnesses`.
	Witnesses []Witness `yaml:"witnesses,omitempty" json:"witnesses,omitempty"`
	// Training marks a rehearsal: every certificate subject gets
	// O=TRAINING - NOT FOR PRODUCTION (pki.TrainingOrganization) and the
	// transcript header says training, so its output is never mistaken for
	// a real ceremony's. `ceremony demo` sets it.
	Training bool `yaml:"training,omitempty" json:"training,omitempty"`

	// Digest is the SHA-256 of the file as read: the transcript records it
	// and a resumed ceremony must present the same file.
	Digest string `yaml:"-" json:"-"`
	// Raw is the file as read; the transcript header inlines it so that an
	// auditor reads exactly what the witnesses reviewed. It holds secret
	// sources, never secrets.
	Raw []byte `yaml:"-" json:"-"`
	// File is the config's path as loaded (empty when parsed from bytes).
	File string `yaml:"-" json:"-"`
	// yamlProblems are what the YAML itself got wrong (an unknown key, a
	// wrong type, a secret in a comment) and dayProblems the days values it
	// spelled in a way decoding would hide (checkDays); badFields are the
	// fields they concern, whose own checks would only repeat them.
	// Validate lists them with the rest.
	yamlProblems, dayProblems []error
	badFields                 map[string]bool
	// Dir is the directory relative paths are resolved against.
	Dir string `yaml:"-" json:"-"`
}

// HSM names the token.
type HSM struct {
	Module string `yaml:"module" json:"module,omitempty"`
	Token  string `yaml:"token" json:"token,omitempty"`
	Serial string `yaml:"serial,omitempty" json:"serial,omitempty"`
	PIN    string `yaml:"pin" json:"pin,omitempty"`
}

// Key describes one key pair made in the token and its certificate.
type Key struct {
	Label   string       `yaml:"label" json:"label,omitempty"`
	Key     keyspec.Type `yaml:"key" json:"key,omitempty"`
	Subject string       `yaml:"subject,omitempty" json:"subject,omitempty"`
	Days    int          `yaml:"days" json:"days,omitempty"`
}

// Repository is one GUN whose root certificate the ceremony issues.
type Repository struct {
	GUN  string `yaml:"gun" json:"gun,omitempty"`
	Days int    `yaml:"days" json:"days,omitempty"`
}

// Notary is the server side of the ceremony (steps 4 to 6).
type Notary struct {
	URL               string `yaml:"url" json:"url,omitempty"`
	TLSCA             string `yaml:"tls_ca,omitempty" json:"tls_ca,omitempty"`
	TrustDir          string `yaml:"trust_dir" json:"trust_dir,omitempty"`
	TargetsPassphrase string `yaml:"targets_passphrase" json:"targets_passphrase,omitempty"`
	// TargetsKey, when set, puts the targets key in the token too (one key
	// for every repository of the ceremony) instead of a passphrase-protected
	// file in trust_dir; targets_passphrase is then not used.
	TargetsKey         *Key   `yaml:"targets_key,omitempty" json:"targets_key,omitempty"`
	SnapshotPassphrase string `yaml:"snapshot_passphrase" json:"snapshot_passphrase,omitempty"`
	// Auth, for a server behind token authentication, is a secret source
	// holding what the notary CLI's NOTARY_AUTH holds: base64 of
	// user:password. Empty: no authentication.
	Auth string `yaml:"auth,omitempty" json:"auth,omitempty"`
}

// Delegation adds a delegate's key as targets/<name> of a repository.
type Delegation struct {
	GUN   string `yaml:"gun" json:"gun,omitempty"`
	Role  string `yaml:"role" json:"role,omitempty"`
	Cert  string `yaml:"cert" json:"cert,omitempty"`
	Paths Paths  `yaml:"paths" json:"paths,omitempty"`
	// Docker makes the delegate a signer as `docker trust signer add` does:
	// its key goes in targets/releases too, the role docker's client reads
	// tags from (names.SignerRoles).
	Docker bool `yaml:"docker,omitempty" json:"docker,omitempty"`
}

// Roles are the delegation roles the delegate's key goes into: the role,
// and targets/releases first for a docker signer (names.SignerRoles).
func (d Delegation) Roles() ([]string, error) {
	return names.SignerRoles(d.Role, d.Docker, d.Paths.All)
}

// Witness is a person declared to watch the ceremony, with the public key
// (or certificate) they will sign the transcript with: Key is the PEM file,
// or KeyID the key's ID ("sha256:" and 64 hex digits, keyspec.KeyID).
type Witness struct {
	Name  string `yaml:"name" json:"name,omitempty"`
	Role  string `yaml:"role,omitempty" json:"role,omitempty"`
	Key   string `yaml:"key,omitempty" json:"key,omitempty"`
	KeyID string `yaml:"key_id,omitempty" json:"key_id,omitempty"`
}

// Paths is "all" or a list of path prefixes.
type Paths struct {
	All  bool
	List []string
}

// UnmarshalYAML accepts `paths: all` or `paths: [a/, b/]`.
func (p *Paths) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "all" {
			// A TypeError lets decoding go on: the rest of the file is
			// checked in the same run.
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: paths must be \"all\" or a list of path prefixes, not %q", n.Line, n.Value)}}
		}
		p.All = true
		return nil
	}
	return n.Decode(&p.List)
}

// MarshalYAML writes Paths back the way it was read.
func (p Paths) MarshalYAML() (any, error) {
	if p.All {
		return "all", nil
	}
	return p.List, nil
}

// Defaults of the seed procedure.
const (
	// DefaultModule is SoftHSM2's library as Debian installs it, so a
	// trainer's rehearsal needs no module setting.
	DefaultModule = "/usr/lib/softhsm/libsofthsm2.so"
	DefaultOutput = "./ceremony-out"
	// DefaultTrustDir is where the forms suggest notary's trust directory,
	// beside the config, in the notary CLI's layout.
	DefaultTrustDir = "trust"
	DefaultCA       = "ca"
	DefaultRoot     = "root"
	// DefaultTranscript labels the key that signs the transcript.
	DefaultTranscript = "transcript"
)

// Load reads, decodes strictly, fills defaults and validates path.
func Load(path string) (*Config, error) {
	return load(path, Parse)
}

// load reads the file at path and hands it to parse with the directory that
// relative paths are resolved against.
func load(path string, parse func(raw []byte, dir string) (*Config, error)) (*Config, error) {
	raw, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := parse(raw, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.File = abs
	return c, nil
}

// Parse decodes raw YAML strictly (unknown keys and trailing documents are
// errors), fills the seed's defaults and validates. Relative paths are
// resolved against dir, the config file's directory, so a reviewed config
// means the same thing whatever directory the operator runs it from.
func Parse(raw []byte, dir string) (*Config, error) {
	c, err := decode(raw, dir)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadNotary reads the same file for a delegate's commands (sign,
// validate), which need only the notary section: the server, its TLS CA,
// the trust directory, and the output directory where ca.pem, the CA to
// pin, lives. The hsm and repository sections are not checked.
func LoadNotary(path string) (*Config, error) {
	c, err := load(path, func(raw []byte, dir string) (*Config, error) {
		c, err := decode(raw, dir)
		if err == nil {
			err = errors.Join(c.yamlProblems...)
		}
		return c, err
	})
	if err != nil {
		return nil, err
	}
	if c.Notary == nil {
		return nil, fmt.Errorf("config %s: no notary section: give the server with notary.url or --server", path)
	}
	return c, nil
}

// decode reads raw into a Config. Only a file that is not YAML at all is an
// error here; what yaml.v3 refuses within it (an unknown key, a wrong type)
// is kept in yamlProblems while decoding goes on, so that Validate reports
// it together with the field checks of everything else in one run.
func decode(raw []byte, dir string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty")
	}
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		return nil, decodeError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document: a ceremony has exactly one config")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, decodeError(err)
	}
	c.readProblems(te, &doc)
	if err := secretComments(&doc); err != nil {
		c.yamlProblems = append(c.yamlProblems, err)
	}
	sum := sha256.Sum256(raw)
	c.Digest = "sha256:" + hex.EncodeToString(sum[:])
	c.Raw = raw
	c.Dir = dir
	c.defaults()
	c.HSM.PIN = c.secretPath(c.HSM.PIN)
	// A module named by a path is found beside the config, like every other
	// path; a bare library name is left to the dynamic loader's search.
	if strings.Contains(c.HSM.Module, "/") {
		c.HSM.Module = c.Path(c.HSM.Module)
	}
	if c.Notary != nil {
		c.Notary.TargetsPassphrase = c.secretPath(c.Notary.TargetsPassphrase)
		c.Notary.SnapshotPassphrase = c.secretPath(c.Notary.SnapshotPassphrase)
		if c.Notary.Auth != "" {
			c.Notary.Auth = c.secretPath(c.Notary.Auth)
		}
	}
	return &c, nil
}

// secretPath resolves a relative file: secret source against the config's
// directory, like every other path in the file.
func (c *Config) secretPath(source string) string {
	src, err := secret.Parse(source)
	if err != nil || src.IsPrompt() {
		return source // Validate reports a bad source; a prompt stays as written
	}
	return src.Under(c.Dir).String()
}

func (c *Config) defaults() {
	if c.HSM.Module == "" {
		c.HSM.Module = DefaultModule
	}
	if c.CA.Label == "" {
		c.CA.Label = DefaultCA
	}
	if c.CA.Key == "" {
		c.CA.Key = keyspec.ECDSAP256
	}
	if c.CA.Subject == "" {
		c.CA.Subject = pki.DefaultCASubject
	}
	if c.CA.Days == 0 {
		c.CA.Days = pki.DefaultCADays
	}
	if c.Root.Label == "" {
		c.Root.Label = DefaultRoot
	}
	if c.Root.Key == "" {
		c.Root.Key = keyspec.ECDSAP256
	}
	if c.Root.Days == 0 {
		c.Root.Days = pki.DefaultRootDays
	}
	if c.Transcript.Label == "" {
		c.Transcript.Label = DefaultTranscript
	}
	if c.Transcript.Key == "" {
		c.Transcript.Key = keyspec.ECDSAP256
	}
	if c.Transcript.Days == 0 {
		// Issued by the CA, it may not outlive it; a CA's days out of
		// range are the CA's problem alone, reported once, as its own.
		c.Transcript.Days = pki.DefaultTranscriptDays
		if c.CA.Days >= 1 {
			c.Transcript.Days = min(c.Transcript.Days, c.CA.Days)
		}
	}
	for i := range c.Repositories {
		if c.Repositories[i].Days == 0 {
			c.Repositories[i].Days = pki.DefaultRepoDays
		}
	}
	if c.Output == "" {
		c.Output = DefaultOutput
	}
	if c.Notary != nil && c.Notary.TargetsKey != nil && c.Notary.TargetsKey.Key == "" {
		c.Notary.TargetsKey.Key = keyspec.ECDSAP256
	}
}

// Path resolves a path from the config against its directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// OutputDir is the resolved output directory.
func (c *Config) OutputDir() string { return c.Path(c.Output) }

// Validate lists every problem in the config, one line each, so the operator
// fixes them all in one pass. Each line is a *FieldError (see Problems); the
// rules are the Check functions of fields.go, which the config forms apply
// as a value is typed.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(CheckToken(c.HSM.Token))
	add(CheckSecretSource("hsm.pin", c.HSM.PIN))
	errs = append(errs, CheckKeys(c.Keys())...)
	if c.Root.Subject != "" {
		add(fieldErr("root.subject", "the root certificate's subject is fixed (CN=root, as notary expects); remove the key"))
	}
	add(CheckSubject("ca.subject", c.CA.Subject))
	if c.Training {
		add(CheckTrainingSubject("ca.subject", c.CA.Subject))
	}
	errs = append(errs, c.dayProblems...)
	add(CheckDays("ca.days", c.CA.Days, MaxCADays))
	add(CheckDays("root.days", c.Root.Days, MaxRootDays))
	add(CheckDays("transcript.days", c.Transcript.Days, MaxTranscriptDays))
	if c.Transcript.Subject != "" {
		add(fieldErr("transcript.subject", "the transcript certificate's subject follows the CA's; remove the key"))
	}
	errs = append(errs, CheckRepositories(c.Repositories)...)
	if c.Notary != nil {
		errs = append(errs, c.Notary.validate(c)...)
	}
	errs = append(errs, c.CheckDelegations()...)
	add(CheckOutput(c.Output))
	errs = append(errs, c.CheckWitnesses()...)
	return errors.Join(c.merge(errs)...)
}

// merge puts the YAML's own problems first, drops the field checks of the
// fields they concern (a token given as a mapping is not also "missing"),
// and lists a line once.
func (c *Config) merge(checks []error) []error {
	var out []error
	seen := map[string]bool{}
	add := func(err error) {
		if !seen[err.Error()] {
			seen[err.Error()] = true
			out = append(out, err)
		}
	}
	for _, err := range c.yamlProblems {
		add(err)
	}
	for _, err := range checks {
		if fe, ok := err.(*FieldError); !ok || slices.Contains(c.dayProblems, err) || !c.isBad(fe.Field) {
			add(err)
		}
	}
	return out
}

// isBad reports whether field, or a section holding it, has a YAML problem
// ("" is the whole file).
func (c *Config) isBad(field string) bool {
	for f := range c.badFields {
		if f == "" || field == f || strings.HasPrefix(field, f+".") || strings.HasPrefix(field, f+"[") {
			return true
		}
	}
	return false
}

func (n *Notary) validate(c *Config) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(CheckServerURL(n.URL))
	add(c.CheckTLSCA(n.TLSCA))
	add(CheckTrustDir(n.TrustDir))
	if k := n.TargetsKey; k != nil {
		if k.Subject != "" || k.Days != 0 {
			add(fieldErr("notary.targets_key", "only label and key apply (no certificate is made for it)"))
		}
	}
	add(CheckSecretSource("notary.targets_passphrase", n.TargetsPassphrase))
	add(CheckSecretSource("notary.snapshot_passphrase", n.SnapshotPassphrase))
	if n.Auth != "" {
		add(CheckSecretSource("notary.auth", n.Auth))
	}
	return errs
}

var keyIDPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// witnessKeyID is the declared witness key's ID.
func (c *Config) witnessKeyID(w Witness) (string, error) {
	switch {
	case (w.Key == "") == (w.KeyID == ""):
		return "", errors.New("give exactly one of key (a PEM public key or certificate file) and key_id (sha256:<64 hex digits>)")
	case w.KeyID != "" && !keyIDPattern.MatchString(w.KeyID):
		return "", fmt.Errorf("key_id %q: write it as sha256: and 64 lowercase hex digits (ceremony witness sign prints it)", w.KeyID)
	case w.KeyID != "":
		return w.KeyID, nil
	}
	b, err := readFile(c.Path(w.Key))
	if err != nil {
		return "", fmt.Errorf("key: %w", err)
	}
	pub, err := pki.ParsePublicKeyPEM(b)
	if err != nil {
		return "", fmt.Errorf("key %s: %w", w.Key, err)
	}
	return keyspec.KeyID(pub)
}

// WitnessRecords are the declared witnesses as the transcript header records
// them: name, role and key ID.
func (c *Config) WitnessRecords() ([]map[string]string, error) {
	out := []map[string]string{}
	for i, w := range c.Witnesses {
		id, err := c.witnessKeyID(w)
		if err != nil {
			return nil, fmt.Errorf("witnesses[%d]: %w", i, err)
		}
		out = append(out, map[string]string{"name": w.Name, "role": w.Role, "keyId": id})
	}
	return out, nil
}

// KeySection is one key the config asks the token for, named by its field.
type KeySection struct {
	Field string
	Key   Key
}

// Keys lists the config's key sections: the CA, the root, the transcript
// key and, when set, the notary targets key.
func (c *Config) Keys() []KeySection {
	keys := []KeySection{{"ca", c.CA}, {"root", c.Root}, {"transcript", c.Transcript}}
	if c.Notary != nil && c.Notary.TargetsKey != nil {
		keys = append(keys, KeySection{"notary.targets_key", *c.Notary.TargetsKey})
	}
	return keys
}

// secretWord finds a word that announces a secret: pin, pins, pw, pwd,
// password, passphrase, passwd, secret (also glued to digits: "pin123456").
var secretWord = regexp.MustCompile(`(?i)\b(pins?|pw|pwd|passwords?|passphrases?|passwd|secrets?)(\b|\d)`)

// longDigits is a run of four digits or more: PIN-like.
var longDigits = regexp.MustCompile(`\d{4,}`)

// isoDate is a date, which a comment about a PIN may well carry.
var isoDate = regexp.MustCompile(`\d{4}-\d{2}-\d{2}`)

// assigned finds a secret word followed by ':' or '=' and a value.
var assigned = regexp.MustCompile(`(?i)\b(pins?|pw|pwd|passwords?|passphrases?|passwd|secrets?)\s*[:=]\s*(\S.*)`)

// commentHoldsSecret reports whether a comment both names a secret and seems
// to give one: a run of digits, or "word: value" where the value is not a
// secret source.
func commentHoldsSecret(c string) bool {
	loc := secretWord.FindStringIndex(c)
	if loc == nil {
		return false
	}
	// Digits after the word ("PIN: 123456", "pin123456"); dates are not PINs.
	if longDigits.MatchString(isoDate.ReplaceAllString(c[loc[0]:], "")) {
		return true
	}
	for _, m := range assigned.FindAllStringSubmatch(c, -1) {
		// The value's first word, punctuation aside, must be a source.
		v := strings.FieldsFunc(m[2], func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(",;", r) })
		if len(v) == 0 {
			continue
		}
		if _, err := secret.Parse(v[0]); err != nil {
			return true
		}
	}
	return false
}

// secretComments refuses a config whose comments seem to hold a secret: the
// file is recorded verbatim in the transcript, comments included, and
// secrets never reach the transcript.
func secretComments(root *yaml.Node) error {
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		for _, c := range []string{n.HeadComment, n.LineComment, n.FootComment} {
			if commentHoldsSecret(c) {
				return fmt.Errorf("line %d: a comment seems to hold a PIN or passphrase; the config is recorded verbatim in the transcript, so secrets only come from env:, file: or prompt", n.Line)
			}
		}
		for _, k := range n.Content {
			if err := walk(k); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

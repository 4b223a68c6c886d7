package config

import (
	"bytes"
	"path/filepath"
	"strings"

	"github.com/ceremony-dev/ceremony/secret"
	"go.yaml.in/yaml/v3"
)

// The file side of a config: what the config forms write for the witnesses
// to review. Parse(Marshal(c)) gives c back.

// header opens every written config. It must never look like it holds a
// secret (secretComments refuses such a file).
const header = "# Ceremony config (docs/configuration.md), written by the config forms.\n" +
	"# The witnesses review this file; the transcript records it verbatim.\n"

// The written layout: the contract's keys in the contract's order, optional
// keys left out when empty (an empty value means the default, as it does
// when the key is absent).
type (
	fileConfig struct {
		HSM          fileHSM          `yaml:"hsm"`
		CA           fileKey          `yaml:"ca"`
		Root         fileKey          `yaml:"root"`
		Transcript   fileKey          `yaml:"transcript"`
		Repositories []fileRepository `yaml:"repositories"`
		Notary       *fileNotary      `yaml:"notary,omitempty"`
		Delegations  []fileDelegation `yaml:"delegations,omitempty"`
		Output       string           `yaml:"output,omitempty"`
		Operator     string           `yaml:"operator,omitempty"`
		Witnesses    []fileWitness    `yaml:"witnesses,omitempty"`
		Training     bool             `yaml:"training,omitempty"`
	}
	fileHSM struct {
		Module string `yaml:"module,omitempty"`
		Token  string `yaml:"token"`
		Serial string `yaml:"serial,omitempty"`
		PIN    string `yaml:"pin,omitempty"`
	}
	fileKey struct {
		Label   string `yaml:"label,omitempty"`
		Key     string `yaml:"key,omitempty"`
		Subject string `yaml:"subject,omitempty"`
		Days    int    `yaml:"days,omitempty"`
	}
	fileRepository struct {
		GUN  string `yaml:"gun"`
		Days int    `yaml:"days,omitempty"`
	}
	fileNotary struct {
		URL                string   `yaml:"url"`
		TLSCA              string   `yaml:"tls_ca,omitempty"`
		TrustDir           string   `yaml:"trust_dir"`
		TargetsKey         *fileKey `yaml:"targets_key,omitempty"`
		TargetsPassphrase  string   `yaml:"targets_passphrase,omitempty"`
		SnapshotPassphrase string   `yaml:"snapshot_passphrase,omitempty"`
		Auth               string   `yaml:"auth,omitempty"`
	}
	fileDelegation struct {
		GUN    string `yaml:"gun"`
		Role   string `yaml:"role"`
		Cert   string `yaml:"cert"`
		Paths  Paths  `yaml:"paths"`
		Docker bool   `yaml:"docker,omitempty"`
	}
	fileWitness struct {
		Name  string `yaml:"name"`
		Role  string `yaml:"role,omitempty"`
		Key   string `yaml:"key,omitempty"`
		KeyID string `yaml:"key_id,omitempty"`
	}
)

func toFileKey(k Key) fileKey {
	return fileKey{Label: k.Label, Key: string(k.Key), Subject: k.Subject, Days: k.Days}
}

// Marshal writes c as the YAML contract: block style, two-space indent, a
// header comment. Derived fields (Digest, Raw, File, Dir) are not written;
// relative paths stay relative, so write the file in c.Dir (see Rebase).
func Marshal(c *Config) ([]byte, error) {
	f := fileConfig{
		HSM:        fileHSM{Module: c.HSM.Module, Token: c.HSM.Token, Serial: c.HSM.Serial, PIN: c.HSM.PIN},
		CA:         toFileKey(c.CA),
		Root:       toFileKey(c.Root),
		Transcript: toFileKey(c.Transcript),
		Output:     c.Output,
		Operator:   c.Operator,
		Training:   c.Training,
	}
	for _, r := range c.Repositories {
		f.Repositories = append(f.Repositories, fileRepository{GUN: r.GUN, Days: r.Days})
	}
	if n := c.Notary; n != nil {
		f.Notary = &fileNotary{URL: n.URL, TLSCA: n.TLSCA, TrustDir: n.TrustDir,
			TargetsPassphrase: n.TargetsPassphrase, SnapshotPassphrase: n.SnapshotPassphrase, Auth: n.Auth}
		if n.TargetsKey != nil {
			k := toFileKey(*n.TargetsKey)
			f.Notary.TargetsKey = &k
		}
	}
	for _, d := range c.Delegations {
		f.Delegations = append(f.Delegations, fileDelegation(d))
	}
	for _, w := range c.Witnesses {
		f.Witnesses = append(f.Witnesses, fileWitness(w))
	}
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Template is the config a new ceremony starts from: the seed's defaults,
// the PIN and passphrases asked at a prompt, no token, no repository.
func Template() *Config {
	c := &Config{HSM: HSM{PIN: "prompt"}}
	c.defaults()
	return c
}

// Rebase rewrites every relative path of c (module, secret files, TLS CA,
// trust directory, delegates' certificates, output, witnesses' keys) so that
// it names the same file from dir, and makes dir c's directory: a config
// read from one place and written to another means the same files.
func (c *Config) Rebase(dir string) {
	dir = filepath.Clean(dir)
	move := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		abs := c.Path(p)
		if rel, err := filepath.Rel(dir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			if strings.HasPrefix(p, "./") && !strings.HasPrefix(rel, ".") {
				rel = "./" + rel // keep the writer's "./" when it still applies
			}
			return rel
		}
		return abs
	}
	moveSecret := func(s string) string {
		src, err := secret.Parse(s)
		if err != nil || src.IsPrompt() {
			return s
		}
		if p, ok := strings.CutPrefix(s, "file:"); ok {
			return "file:" + move(p)
		}
		return s
	}
	if strings.Contains(c.HSM.Module, "/") {
		c.HSM.Module = move(c.HSM.Module)
	}
	c.HSM.PIN = moveSecret(c.HSM.PIN)
	if n := c.Notary; n != nil {
		n.TLSCA = move(n.TLSCA)
		n.TrustDir = move(n.TrustDir)
		n.TargetsPassphrase = moveSecret(n.TargetsPassphrase)
		n.SnapshotPassphrase = moveSecret(n.SnapshotPassphrase)
		n.Auth = moveSecret(n.Auth)
	}
	for i := range c.Delegations {
		c.Delegations[i].Cert = move(c.Delegations[i].Cert)
	}
	for i := range c.Witnesses {
		c.Witnesses[i].Key = move(c.Witnesses[i].Key)
	}
	c.Output = move(c.Output)
	c.Dir = dir
}

package trust

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/theupdateframework/notary/client"
	"github.com/theupdateframework/notary/trustmanager"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/infile"
	"github.com/ceremony-dev/ceremony/secret"
)

// DelegateKey is a delegate's signing key for AddTarget: a software key from
// a PEM file, or a key in a PKCS#11 token.
type DelegateKey struct {
	id    string
	soft  data.PrivateKey
	token *hsm.Key
}

// ID is the key's canonical ID, as `notary delegation list` shows it.
func (k *DelegateKey) ID() string { return k.id }

// Signer is the key as a crypto.Signer, token calls bound to ctx, for what
// the key signs besides notary metadata (a witness's transcript line): one
// way to read a key named on a command line, whatever it signs.
func (k *DelegateKey) Signer(ctx context.Context) (crypto.Signer, error) {
	if k.token != nil {
		return k.token.WithContext(ctx), nil
	}
	if k.soft == nil || k.soft.CryptoSigner() == nil {
		return nil, fmt.Errorf("key %s: no signer for this key type", k.id)
	}
	return k.soft.CryptoSigner(), nil
}

// DelegateKeyFromPEM reads a PEM private key, encrypted with passphrase or
// not, in the forms `docker trust key generate`, notary and OpenSSL 3 write
// (parsePrivateKeyPEM).
func DelegateKeyFromPEM(pemBytes, passphrase []byte) (*DelegateKey, error) {
	key, err := parsePrivateKeyPEM(pemBytes, passphrase)
	if errors.Is(err, ErrWrongPassphrase) {
		return nil, fmt.Errorf("delegate key: %w: give the passphrase the key file was written with", err)
	}
	if err != nil {
		// Nothing here holds the passphrase.
		return nil, fmt.Errorf("delegate key: %w", err)
	}
	return &DelegateKey{id: key.ID(), soft: key}, nil
}

// DelegateKeyFromToken finds the key a pkcs11: URI names on the token behind
// the logged-in session s.
func DelegateKeyFromToken(ctx context.Context, s *hsm.Session, uri string) (*DelegateKey, error) {
	u, err := hsm.ParseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("delegate key: %w", err)
	}
	k, err := s.FindKeyURI(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("delegate key: %w", err)
	}
	tk, err := newTokenKey(k, KeyRef{Role: "targets/delegate"})
	if err != nil {
		return nil, fmt.Errorf("delegate key %s: %w", uri, err)
	}
	return &DelegateKey{id: tk.ID(), token: k}, nil
}

// store is a one-key store holding the delegate key for role, its token
// calls bound to ctx.
func (k *DelegateKey) store(ctx context.Context, role data.RoleName, gun data.GUN) (trustmanager.KeyStore, error) {
	if k.token != nil {
		tk, err := newTokenKey(k.token, KeyRef{Role: role, GUN: gun})
		if err != nil {
			return nil, err
		}
		ks := &KeyStore{name: "pkcs11:" + k.token.Session().Token().Label, keys: map[string]*tokenKey{tk.ID(): tk}}
		return ks.withContext(ctx), nil
	}
	if k.soft == nil {
		return nil, errors.New("empty delegate key")
	}
	// notary's memory store encrypts what it holds with the retriever's
	// passphrase; in memory, for one operation, there is nothing to gain.
	ks := trustmanager.NewKeyMemoryStore(func(string, string, bool, int) (string, bool, error) { return "", false, nil })
	if err := ks.AddKey(trustmanager.KeyInfo{Role: role, Gun: gun}, k.soft); err != nil {
		return nil, err
	}
	return ks, nil
}

// Target is a signed target as notary holds it.
type Target struct {
	GUN    string
	Name   string // the tag
	Digest string // sha256:<hex>
	Size   int64
	Role   string // the role that signed it
}

// TargetResult is the outcome of AddTarget.
type TargetResult struct {
	// Targets are the tag as each role signed it, in the order of the roles.
	Targets []Target
	// AlreadyPresent: every role had signed this digest and size for the
	// tag; nothing was done.
	AlreadyPresent bool
}

// Roles are the roles that signed the tag.
func (r *TargetResult) Roles() []string {
	var out []string
	for _, t := range r.Targets {
		out = append(out, t.Role)
	}
	return out
}

// AddTarget signs tag -> (digest, size) into the delegation roles with the
// delegate's key and publishes once (`notary addhash GUN TAG SIZE --sha256
// HEX -r ROLE --publish` for each role). No roles means every delegation
// that holds the key, as `docker trust sign` signs into targets/releases and
// the signer's own role: docker shows the tag only from targets/releases,
// and names its signers from the others. The snapshot is the server's to
// sign, so the delegate needs no other key.
func (c *Client) AddTarget(ctx context.Context, gun string, roles []string, tag, digest string, size int64, key *DelegateKey) (*TargetResult, error) {
	res, err := c.addTarget(ctx, gun, roles, tag, digest, size, key)
	if err != nil {
		to := strings.Join(roles, " and ")
		if to == "" {
			to = "the key's roles"
		}
		return nil, fmt.Errorf("notary addhash %s %s to %s: %w", gun, tag, to, err)
	}
	return res, nil
}

func (c *Client) addTarget(ctx context.Context, gun string, roles []string, tag, digest string, size int64, key *DelegateKey) (*TargetResult, error) {
	g, err := checkGUN(gun)
	if err != nil {
		return nil, err
	}
	for _, role := range roles {
		if _, err := checkDelegationRole(role); err != nil {
			return nil, err
		}
	}
	sum, err := parseDigest(digest)
	if err != nil {
		return nil, err
	}
	switch {
	case tag == "":
		return nil, errors.New("empty tag")
	case size <= 0:
		return nil, fmt.Errorf("manifest size %d: must be positive", size)
	case key == nil:
		return nil, errors.New("no delegate key")
	}
	if err := c.writePing(ctx); err != nil {
		return nil, err
	}
	facts, err := c.published(ctx, g)
	if err != nil {
		return nil, err
	}
	if roles, err = keyRoles(facts, roles, key.ID(), tag); err != nil {
		return nil, err
	}
	hexSum := "sha256:" + hex.EncodeToString(sum)
	want := func(role string) Target {
		return Target{GUN: gun, Name: tag, Digest: hexSum, Size: size, Role: role}
	}
	var missing []data.RoleName
	for _, role := range roles {
		if got, err := c.lookup(ctx, g, tag, data.RoleName(role)); err != nil || *got != want(role) {
			missing = append(missing, data.RoleName(role))
		}
	}
	res := &TargetResult{AlreadyPresent: len(missing) == 0}
	if len(missing) > 0 {
		if err := c.publishTarget(ctx, g, missing, &client.Target{Name: tag, Hashes: data.Hashes{"sha256": sum}, Length: size}, key); err != nil {
			return nil, err
		}
	}
	for _, role := range roles {
		got, err := c.lookup(ctx, g, tag, data.RoleName(role))
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", role, err)
		}
		if *got != want(role) {
			return nil, fmt.Errorf("published, but the server's metadata says %s (%d bytes) in %s", got.Digest, got.Size, got.Role)
		}
		res.Targets = append(res.Targets, *got)
	}
	return res, nil
}

// publishTarget adds t to the roles with the delegate's key and publishes.
func (c *Client) publishTarget(ctx context.Context, g data.GUN, roles []data.RoleName, t *client.Target, key *DelegateKey) error {
	store, err := key.store(ctx, roles[0], g)
	if err != nil {
		return err
	}
	repo, err := c.openWriter(ctx, g, store)
	if err != nil {
		return err
	}
	if err := repo.AddTarget(t, roles...); err != nil {
		return err
	}
	if err := repo.Publish(); err != nil {
		return fmt.Errorf("publish: %w", keyError(err))
	}
	return nil
}

// keyRoles checks that the key may sign tag into each of roles, or, with
// no roles given, finds every delegation that holds the key.
func keyRoles(facts *Facts, roles []string, keyID, tag string) ([]string, error) {
	if len(roles) == 0 {
		for _, r := range facts.Roles {
			if data.IsDelegation(data.RoleName(r.Name)) && slices.Contains(r.KeyIDs, keyID) {
				roles = append(roles, r.Name)
			}
		}
		if len(roles) == 0 {
			return nil, fmt.Errorf("key %s is in no delegation of %s: the repository owner adds it first", keyID, facts.GUN)
		}
	}
	for _, role := range roles {
		have, ok := facts.Role(role)
		if !ok {
			return nil, fmt.Errorf("%s has no delegation %s: the repository owner adds it first", facts.GUN, role)
		}
		if !slices.Contains(have.KeyIDs, keyID) {
			return nil, fmt.Errorf("key %s is not a key of %s (it has %v): the repository owner adds it first", keyID, role, have.KeyIDs)
		}
		if !pathAllowed(have.Paths, tag) {
			return nil, fmt.Errorf("tag %s is outside %s's paths %q: sign a tag under one of them, name the other roles with --role, or have the owner widen the delegation", tag, role, have.Paths)
		}
	}
	return roles, nil
}

// Lookup returns the target notary resolves for tag (`notary lookup GUN
// TAG`): a breadth-first search from targets through the delegations.
func (c *Client) Lookup(ctx context.Context, gun, tag string) (*Target, error) {
	g, err := checkGUN(gun)
	if err == nil {
		err = c.Ping(ctx)
	}
	var t *Target
	if err == nil {
		t, err = c.lookup(ctx, g, tag)
	}
	if err != nil {
		return nil, fmt.Errorf("notary lookup %s %s: %w", gun, tag, err)
	}
	return t, nil
}

func (c *Client) lookup(ctx context.Context, g data.GUN, tag string, roles ...data.RoleName) (*Target, error) {
	repo, _, _, err := c.openReader(ctx, g)
	if err != nil {
		return nil, err
	}
	t, err := repo.GetTargetByName(tag, roles...)
	if err != nil {
		return nil, readError(g, err)
	}
	sum, ok := t.Hashes["sha256"]
	if !ok {
		return nil, fmt.Errorf("target %s has no sha256 hash", tag)
	}
	return &Target{GUN: g.String(), Name: t.Name, Digest: "sha256:" + hex.EncodeToString(sum), Size: t.Length, Role: t.Role.String()}, nil
}

// GenerateDelegateKey makes a delegate's key pair the way `docker trust key
// generate NAME` does: an ECDSA P-256 private key as encrypted PKCS#8 PEM
// (role header set) and its PUBLIC KEY PEM, which the delegate hands to the
// ceremony. It runs on the delegate's own device, never on the token.
func GenerateDelegateKey(role string, passphrase []byte) (privPEM, pubPEM []byte, err error) {
	if len(passphrase) == 0 {
		return nil, nil, errors.New("generate delegate key: a passphrase is required to protect the key file")
	}
	key, err := utils.GenerateECDSAKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate delegate key: %w", err)
	}
	privPEM, err = utils.ConvertPrivateKeyToPKCS8(key, data.RoleName(role), "", string(passphrase))
	if err != nil {
		return nil, nil, fmt.Errorf("generate delegate key: %w", err)
	}
	pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"role": role}, Bytes: key.Public()})
	return privPEM, pubPEM, nil
}

// CheckDelegateKey checks the delegate's key named on a command line as far
// as it can without its passphrase or PIN: a readable PEM private key file,
// or a pkcs11: URI that parses. A command checks it before it asks a server
// or a registry anything, and opens it (OpenDelegateKey) last.
func CheckDelegateKey(key string) error {
	if strings.HasPrefix(key, "pkcs11:") {
		if _, err := hsm.ParseURI(key); err != nil {
			return fmt.Errorf("delegate key: %w", err)
		}
		return nil
	}
	b, err := infile.Read(key, 1<<20)
	if err == nil {
		err = checkPrivateKeyPEM(b)
	}
	if err != nil {
		return fmt.Errorf("delegate key: %w", err)
	}
	return nil
}

// OpenDelegateKey loads the delegate's signing key named on a command line:
// a PEM private key file (its passphrase from passSource when the file is
// encrypted) or a pkcs11: URI (the token's PIN from pinSource, else the
// URI's pin-source, else a prompt). Close the returned func when done.
func OpenDelegateKey(ctx context.Context, key, passSource, pinSource string, p secret.Prompter) (*DelegateKey, func(), error) {
	if !strings.HasPrefix(key, "pkcs11:") {
		b, err := infile.Read(key, 1<<20)
		if err != nil {
			return nil, nil, fmt.Errorf("delegate key: %w", err)
		}
		var pass []byte
		if bytes.Contains(b, []byte("ENCRYPTED")) {
			src, err := secret.Parse(passSource)
			if err != nil {
				return nil, nil, fmt.Errorf("delegate key passphrase: %w", err)
			}
			if pass, err = src.Read(ctx, "passphrase for delegate key "+filepath.Base(key), p); err != nil {
				return nil, nil, err
			}
			defer clear(pass)
		}
		dk, err := DelegateKeyFromPEM(b, pass)
		return dk, func() {}, err
	}
	u, err := hsm.ParseURI(key)
	if err != nil {
		return nil, nil, fmt.Errorf("delegate key: %w", err)
	}
	if pinSource == "" {
		pinSource = u.PinSource
	}
	src, err := secret.Parse(pinSource)
	if err != nil {
		return nil, nil, fmt.Errorf("delegate key PIN: %w", err)
	}
	sess, err := hsm.Connect(ctx, u.ModulePath, hsm.TokenSelector{Label: u.Token, Serial: u.Serial}, src.Reader(secret.PINPrompt(u.Token), p))
	if err != nil {
		return nil, nil, err
	}
	closeAll := func() { sess.Close() }
	dk, err := DelegateKeyFromToken(ctx, sess, key)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return dk, closeAll, nil
}

// pathAllowed is notary's rule for a delegation's paths: a target name must
// start with one of them ("" is every path).
func pathAllowed(paths []string, name string) bool {
	for _, p := range paths {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

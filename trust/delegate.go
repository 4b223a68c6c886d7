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
	Target
	// AlreadyPresent: the role had signed this digest and size for the tag;
	// nothing was done.
	AlreadyPresent bool
}

// AddTarget signs tag -> (digest, size) into the delegation role with the
// delegate's key and publishes (`notary addhash GUN TAG SIZE --sha256 HEX -r
// ROLE --publish`). The snapshot is the server's to sign, so the delegate
// needs no other key.
func (c *Client) AddTarget(ctx context.Context, gun, role, tag, digest string, size int64, key *DelegateKey) (*TargetResult, error) {
	res, err := c.addTarget(ctx, gun, role, tag, digest, size, key)
	if err != nil {
		return nil, fmt.Errorf("notary addhash %s %s to %s: %w", gun, tag, role, err)
	}
	return res, nil
}

func (c *Client) addTarget(ctx context.Context, gun, role, tag, digest string, size int64, key *DelegateKey) (*TargetResult, error) {
	g, err := checkGUN(gun)
	if err != nil {
		return nil, err
	}
	r, err := checkDelegationRole(role)
	if err != nil {
		return nil, err
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
	if err := c.Ping(ctx); err != nil {
		return nil, err
	}
	facts, err := c.published(ctx, g)
	if err != nil {
		return nil, err
	}
	have, ok := facts.Role(role)
	if !ok {
		return nil, fmt.Errorf("%s has no delegation %s: the repository owner adds it first", g, role)
	}
	if !slices.Contains(have.KeyIDs, key.ID()) {
		return nil, fmt.Errorf("key %s is not a key of %s (it has %v): the repository owner adds it first", key.ID(), role, have.KeyIDs)
	}
	if !pathAllowed(have.Paths, tag) {
		return nil, fmt.Errorf("tag %s is outside %s's paths %q: sign a tag under one of them, or have the owner widen the delegation", tag, role, have.Paths)
	}
	want := Target{GUN: gun, Name: tag, Digest: "sha256:" + hex.EncodeToString(sum), Size: size, Role: role}
	if got, err := c.lookup(ctx, g, tag, r); err == nil && *got == want {
		return &TargetResult{Target: want, AlreadyPresent: true}, nil
	}
	store, err := key.store(ctx, r, g)
	if err != nil {
		return nil, err
	}
	repo, err := c.openWriter(ctx, g, store)
	if err != nil {
		return nil, err
	}
	t := &client.Target{Name: tag, Hashes: data.Hashes{"sha256": sum}, Length: size}
	if err := repo.AddTarget(t, r); err != nil {
		return nil, err
	}
	if err := repo.Publish(); err != nil {
		return nil, fmt.Errorf("publish: %w", keyError(err))
	}
	got, err := c.lookup(ctx, g, tag, r)
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	if *got != want {
		return nil, fmt.Errorf("published, but the server's metadata says %s (%d bytes) in %s", got.Digest, got.Size, got.Role)
	}
	return &TargetResult{Target: *got}, nil
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

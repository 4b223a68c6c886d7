package trust

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/theupdateframework/notary/trustpinning"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"
	"github.com/theupdateframework/notary/tuf/validation"
)

// InitResult is the outcome of Init.
type InitResult struct {
	Facts
	// AlreadyInitialised: the server had the repository with this root key
	// (a re-run after a crash after publishing); nothing was done.
	AlreadyInitialised bool
	// Resumed: an earlier run had initialised locally but not published;
	// its metadata and keys were published now.
	Resumed bool
}

// Init creates the repository gun on the server with repoCert as its root
// certificate and the token key it certifies as the root key, then
// publishes (`notary init GUN --publish --rootcert CERT`). The snapshot key,
// and the targets key unless the token holds one for the GUN, are new
// software keys in the trust dir, protected by the configured passphrases.
// A re-run is safe: a repository the server already has under this very
// certificate is reported as already initialised; an unpublished one from an
// interrupted run is published as it is; other local leftovers are replaced.
func (c *Client) Init(ctx context.Context, gun string, repoCert *x509.Certificate, opts ...InitOption) (*InitResult, error) {
	var o initOptions
	for _, opt := range opts {
		opt(&o)
	}
	res, err := c.init(ctx, gun, repoCert, o)
	if err != nil {
		return nil, fmt.Errorf("notary init %s: %w", gun, err)
	}
	return res, nil
}

// InitOption shapes Init.
type InitOption func(*initOptions)

type initOptions struct{ knownNew bool }

// KnownNew says that the caller found the server without trust data for the
// repository when the ceremony began (its preflight asks) and has not tried
// to publish it since, so no earlier run of its own can have: the check for
// a repository already there (a round trip) is skipped. One that someone
// else published in between is still refused, by notary's publish, which
// cannot validate the server's metadata under the new root.
func KnownNew() InitOption { return func(o *initOptions) { o.knownNew = true } }

func (c *Client) init(ctx context.Context, gun string, repoCert *x509.Certificate, o initOptions) (*InitResult, error) {
	g, err := checkGUN(gun)
	if err != nil {
		return nil, err
	}
	rootKey, err := c.checkRepoCert(g, repoCert)
	if err != nil {
		return nil, err
	}
	if err := c.writePing(ctx); err != nil {
		return nil, err
	}
	if o.knownNew {
		return c.publishLeftOrNew(ctx, g, rootKey)
	}
	facts, err := c.published(ctx, g)
	switch {
	case err == nil:
		if !slices.Contains(facts.RootKeyIDs, rootKey.ID()) {
			canonical, _ := utils.CanonicalKeyID(rootKey)
			if slices.Contains(facts.CanonicalRootKeyIDs, canonical) {
				return nil, fmt.Errorf("the server already has %s with this root key under another certificate (root key IDs %v, this certificate's %s): use the certificate it was initialised with", g, facts.RootKeyIDs, rootKey.ID())
			}
			return nil, fmt.Errorf("the server already has %s with root key %v, not the repository certificate's key %s", g, facts.RootKeyIDs, rootKey.ID())
		}
		return &InitResult{Facts: *facts, AlreadyInitialised: true}, nil
	case !errors.Is(err, ErrNotPublished):
		return nil, err
	}
	return c.publishLeftOrNew(ctx, g, rootKey)
}

// publishLeftOrNew publishes a repository the server does not hold: the
// one an interrupted run left in the trust dir, or a new one.
func (c *Client) publishLeftOrNew(ctx context.Context, g data.GUN, rootKey data.PublicKey) (*InitResult, error) {
	resume, err := c.resumable(g, rootKey)
	if err != nil {
		return nil, err
	}
	res, err := c.publishNew(ctx, g, rootKey, resume)
	var badRoot validation.ErrBadRoot
	if resume && errors.As(err, &badRoot) {
		// The leftover root names a timestamp key the server no longer
		// holds: it lost its state since (restarted without durable
		// storage, restored from a backup). Resuming would fail the same
		// way on every re-run: start clean, once.
		res, err = c.publishNew(ctx, g, rootKey, false)
	}
	return res, err
}

// errEmptyServerKey is a timestamp key without a key in it. notary-signer
// 0.7.0 hands one out, with no error, when its database fails while it
// makes the key (SQLKeyDBStore.Create reads a failed query as "found"), and
// notary builds root.json around it: the publish then fails, and every
// resume of that root fails too, so the root is not kept.
var errEmptyServerKey = errors.New("notary-server handed out an empty timestamp key (its notary-signer's database failed while making it); nothing was published: once its /_notary_server/health is 200, run again")

// checkServerKeys refuses the root notary just initialised g with when the
// server's timestamp key in it is empty, and clears it so the next run
// starts clean.
func (c *Client) checkServerKeys(g data.GUN) error {
	raw, err := os.ReadFile(filepath.Join(c.gunDir(g), "metadata", "root.json"))
	if err != nil {
		return fmt.Errorf("initialise: read the new root.json: %w", err)
	}
	root, err := parseRoot(raw)
	if err != nil {
		return fmt.Errorf("initialise: %w", err)
	}
	if !emptyKey(root, data.CanonicalTimestampRole) {
		return nil
	}
	if err := os.RemoveAll(c.gunDir(g)); err != nil {
		return fmt.Errorf("clear local trust data: %w", err)
	}
	return errEmptyServerKey
}

// emptyKey reports whether a key of role in root has no public key.
func emptyKey(root *data.SignedRoot, role data.RoleName) bool {
	r := root.Signed.Roles[role]
	if r == nil {
		return false
	}
	for _, id := range r.KeyIDs {
		if k := root.Signed.Keys[id]; k == nil || len(k.Public()) == 0 {
			return true
		}
	}
	return false
}

// publishNew publishes a new repository: the one an interrupted run left
// in the trust dir (resume), or one initialised now.
func (c *Client) publishNew(ctx context.Context, g data.GUN, rootKey data.PublicKey, resume bool) (*InitResult, error) {
	if !resume {
		// Metadata or a changelist left by an earlier attempt would be
		// trusted as the local root or replayed at publish: start clean.
		// Key files stay: private keys are never deleted.
		if err := os.RemoveAll(c.gunDir(g)); err != nil {
			return nil, fmt.Errorf("clear local trust data: %w", err)
		}
	}
	repo, err := c.openWriter(ctx, g, c.tokenStores(ctx)...)
	if err != nil {
		return nil, err
	}
	if !resume {
		if err := repo.InitializeWithCertificate(nil, []data.PublicKey{rootKey}); err != nil {
			return nil, fmt.Errorf("initialise: %w", keyError(err))
		}
		if err := c.checkServerKeys(g); err != nil {
			return nil, err
		}
	}
	// A publish cut off may have reached the server whole: the error says
	// only what is known, and a re-run finds out (resume reads the server).
	if err := repo.Publish(); err != nil {
		return nil, fmt.Errorf("publish (not confirmed by the server; a re-run checks what it holds and resumes): %w", keyError(err))
	}
	facts, err := c.readBack(ctx, g)
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	return &InitResult{Facts: *facts, Resumed: resume}, nil
}

// checkRepoCert checks up front what notary would otherwise reject only at
// the first publish, or what clients would reject later: the CN is the GUN,
// the certificate is a valid leaf, its key is the token's root key, and it
// passes notary's CA pinning with the configured CA.
func (c *Client) checkRepoCert(g data.GUN, cert *x509.Certificate) (data.PublicKey, error) {
	switch {
	case cert == nil:
		return nil, errors.New("no repository certificate")
	case cert.IsCA:
		return nil, errors.New("the repository certificate is a CA certificate; notary needs a leaf")
	case !trustpinning.MatchCNToGun(cert.Subject.CommonName, g):
		return nil, fmt.Errorf("the repository certificate's CN %q does not match the GUN %q", cert.Subject.CommonName, g)
	}
	if err := utils.ValidateCertificate(cert, true); err != nil {
		return nil, fmt.Errorf("repository certificate: %w", err)
	}
	pub := utils.CertToKey(cert)
	if pub == nil {
		return nil, fmt.Errorf("repository certificate: unsupported key algorithm %v", cert.PublicKeyAlgorithm)
	}
	canonical, err := utils.CanonicalKeyID(pub)
	if err != nil {
		return nil, fmt.Errorf("repository certificate: %w", err)
	}
	if c.cfg.Token == nil {
		return nil, errors.New("no token key store: the root key signs in the token")
	}
	if info, err := c.cfg.Token.GetKeyInfo(canonical); err != nil || info.Role != data.CanonicalRootRole {
		return nil, fmt.Errorf("the repository certificate certifies key %s, which is not a root key in %s (it has %v)", canonical, c.cfg.Token.Name(), c.cfg.Token.IDs())
	}
	check, err := trustpinning.NewTrustPinChecker(c.pinning(g), g, true)
	if err != nil {
		return nil, fmt.Errorf("trust pinning with CA %s: %w", c.cfg.PinCA, err)
	}
	if !check(cert, nil) {
		return nil, fmt.Errorf("the repository certificate does not verify against the pinned CA %s the way notary checks it (chain, validity, no EKU other than serverAuth): clients would reject the repository", c.cfg.PinCA)
	}
	return pub, nil
}

// resumable reports whether the trust dir holds an unpublished repository
// from an interrupted run that can be published as it is: its root is the
// repository certificate's and the targets and snapshot keys it names are
// in the key files. Publishing it then needs no new keys, and no token
// signature either, the root being signed already.
func (c *Client) resumable(g data.GUN, rootKey data.PublicKey) (bool, error) {
	dir := filepath.Join(c.gunDir(g), "metadata")
	raw, err := os.ReadFile(filepath.Join(dir, "root.json"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	root, err := parseRoot(raw)
	if err != nil || emptyKey(root, data.CanonicalTimestampRole) {
		return false, nil // unreadable or unusable leftovers are replaced
	}
	if r := root.Signed.Roles[data.CanonicalRootRole]; r == nil || !slices.Equal(r.KeyIDs, []string{rootKey.ID()}) {
		return false, nil
	}
	for _, f := range []string{"targets.json", "snapshot.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false, nil
		}
	}
	fileKS, err := c.fileKeyStore()
	if err != nil {
		return false, err
	}
	have := fileKS.ListKeys()
	if c.cfg.Token != nil {
		maps.Copy(have, c.cfg.Token.ListKeys())
	}
	for _, role := range []data.RoleName{data.CanonicalTargetsRole, data.CanonicalSnapshotRole} {
		r := root.Signed.Roles[role]
		if r == nil || len(r.KeyIDs) == 0 {
			return false, nil
		}
		for _, id := range r.KeyIDs {
			if info, ok := have[id]; !ok || info.Role != role {
				return false, nil
			}
		}
	}
	return true, nil
}

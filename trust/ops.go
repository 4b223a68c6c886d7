package trust

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/theupdateframework/notary/storage"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/trust/names"
)

// RotateResult is the outcome of RotateSnapshotToServer.
type RotateResult struct {
	Facts
	ServerSnapshotKeyID string // the key the server signs snapshots with
	// AlreadyServerManaged: the published snapshot key was the server's
	// already; nothing was done.
	AlreadyServerManaged bool
}

// RotateSnapshotToServer makes the snapshot key server-managed (`notary key
// rotate GUN snapshot --server-managed`). notary publishes a new root at once,
// signed by the token's root key.
func (c *Client) RotateSnapshotToServer(ctx context.Context, gun string, opts ...RotateOption) (*RotateResult, error) {
	var o rotateOptions
	for _, opt := range opts {
		opt(&o)
	}
	res, err := c.rotateSnapshot(ctx, gun, o)
	if err != nil {
		return nil, fmt.Errorf("notary rotate snapshot key of %s to the server: %w", gun, err)
	}
	return res, nil
}

// RotateOption shapes RotateSnapshotToServer.
type RotateOption func(*rotateOptions)

type rotateOptions struct{ justInitialised bool }

// JustInitialised says that the caller initialised the repository in this
// run and has not rotated its snapshot key since, so no earlier, interrupted
// rotation can have happened: the check for one (a read-back of the
// repository and of the server's key, six round trips) is skipped.
func JustInitialised() RotateOption { return func(o *rotateOptions) { o.justInitialised = true } }

func (c *Client) rotateSnapshot(ctx context.Context, gun string, o rotateOptions) (*RotateResult, error) {
	g, err := checkGUN(gun)
	if err != nil {
		return nil, err
	}
	if err := c.writePing(ctx); err != nil {
		return nil, err
	}
	if !o.justInitialised {
		if done, err := c.rotatedBefore(ctx, g); err != nil || done != nil {
			return done, err
		}
	}
	repo, err := c.openWriter(ctx, g, c.tokenStores(ctx)...)
	if err != nil {
		return nil, err
	}
	if err := repo.RotateKey(data.CanonicalSnapshotRole, true, nil); err != nil {
		return nil, keyError(err)
	}
	// The read-back, then the server's key: one after the other, never at
	// once. notary-server 0.7.0 over SQL caches metadata in a map without a
	// lock (server/storage.TUFMetaStorage), and two reads of a repository at
	// once crash it, as BenchmarkCeremonyRepos/production showed.
	facts, err := c.published(ctx, g)
	if err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	serverKey, err := c.serverKey(ctx, g, data.CanonicalSnapshotRole)
	if err != nil {
		return nil, err
	}
	if snap, _ := facts.Role(data.CanonicalSnapshotRole.String()); !slices.Equal(snap.KeyIDs, []string{serverKey}) {
		return nil, fmt.Errorf("after the rotation the published snapshot key is %v, the server's is %s", snap.KeyIDs, serverKey)
	}
	return &RotateResult{Facts: *facts, ServerSnapshotKeyID: serverKey}, nil
}

// rotatedBefore is the result of a rotation an earlier run already
// published, or nil. The server answers GET snapshot.key with the published
// snapshot key when it holds its private half, else with a new pending key:
// so the published key is the server's exactly when the two agree.
func (c *Client) rotatedBefore(ctx context.Context, g data.GUN) (*RotateResult, error) {
	facts, err := c.published(ctx, g)
	if err != nil {
		return nil, err
	}
	serverKey, err := c.serverKey(ctx, g, data.CanonicalSnapshotRole)
	if err != nil {
		return nil, err
	}
	if snap, ok := facts.Role(data.CanonicalSnapshotRole.String()); ok && slices.Equal(snap.KeyIDs, []string{serverKey}) {
		return &RotateResult{Facts: *facts, ServerSnapshotKeyID: serverKey, AlreadyServerManaged: true}, nil
	}
	return nil, nil
}

func (c *Client) serverKey(ctx context.Context, g data.GUN, role data.RoleName) (string, error) {
	remote, err := storage.NewNotaryServerStore(c.cfg.URL, g, c.transport(ctx))
	if err != nil {
		return "", err
	}
	raw, err := remote.GetKey(role)
	if err != nil {
		return "", fmt.Errorf("get the server's %s key: %w", role, accessError(err))
	}
	k, err := data.UnmarshalPublicKey(raw)
	if err != nil {
		return "", fmt.Errorf("the server's %s key: %w", role, err)
	}
	return k.ID(), nil
}

// DelegationResult is the outcome of AddDelegation.
type DelegationResult struct {
	Facts
	// Delegations are the roles that hold the key, targets/NAME and, for a
	// docker signer, targets/releases.
	Delegations []string
	KeyID       string // canonical ID of the delegate's key, as `notary delegation list` shows
	// AlreadyPresent: every role had this key and these paths; nothing was done.
	AlreadyPresent bool
}

// AddDelegation adds a delegate's key to each of the delegation roles
// (`notary delegation add GUN ROLE KEYFILE --all-paths --publish` for each)
// and publishes once. A docker signer's roles are targets/releases and
// targets/NAME, as `docker trust signer add` makes them
// (names.SignerRoles). pemBytes is a CERTIFICATE or a PUBLIC KEY, as
// `docker trust key generate` writes; paths empty means all paths.
// Publishing re-signs targets with the targets key (its file and
// passphrase, or the token).
func (c *Client) AddDelegation(ctx context.Context, gun string, roles []string, pemBytes []byte, paths []string) (*DelegationResult, error) {
	res, err := c.addDelegation(ctx, gun, roles, pemBytes, paths)
	if err != nil {
		return nil, fmt.Errorf("notary delegation add %s %s: %w", gun, strings.Join(roles, " and "), err)
	}
	return res, nil
}

func (c *Client) addDelegation(ctx context.Context, gun string, roles []string, pemBytes []byte, paths []string) (*DelegationResult, error) {
	g, err := checkGUN(gun)
	if err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, errors.New("no delegation role")
	}
	// Only roles directly under targets: the targets key signs them in.
	for _, role := range roles {
		if err := names.CheckDelegation(role); err != nil {
			return nil, err
		}
	}
	pub, keyID, err := parseDelegatePublicKey(pemBytes)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		paths = []string{""} // notary's "all paths"
	}
	if err := c.writePing(ctx); err != nil {
		return nil, err
	}
	facts, err := c.published(ctx, g)
	if err != nil {
		return nil, err
	}
	missing := slices.DeleteFunc(slices.Clone(roles), func(role string) bool {
		have, ok := facts.Role(role)
		return ok && slices.Contains(have.KeyIDs, keyID) && containsAll(have.Paths, paths)
	})
	if len(missing) == 0 {
		return &DelegationResult{Facts: *facts, Delegations: roles, KeyID: keyID, AlreadyPresent: true}, nil
	}
	repo, err := c.openWriter(ctx, g, c.tokenStores(ctx)...)
	if err != nil {
		return nil, err
	}
	for _, role := range missing {
		if err := repo.AddDelegation(data.RoleName(role), []data.PublicKey{pub}, paths); err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
	}
	if err := repo.Publish(); err != nil {
		return nil, fmt.Errorf("publish: %w", keyError(err))
	}
	if facts, err = c.published(ctx, g); err != nil {
		return nil, fmt.Errorf("read back: %w", err)
	}
	for _, role := range roles {
		if have, ok := facts.Role(role); !ok || !slices.Contains(have.KeyIDs, keyID) {
			return nil, fmt.Errorf("published, but the server's metadata has no key %s in %s", keyID, role)
		}
	}
	return &DelegationResult{Facts: *facts, Delegations: roles, KeyID: keyID}, nil
}

// DelegatePublicKeyID parses a delegate's PEM certificate or public key as
// `notary delegation add` does (a certificate must be valid now) and returns
// the canonical key ID the delegation will list. Preflight uses it so that
// an unusable delegate key stops the ceremony before anything is made.
func DelegatePublicKeyID(pemBytes []byte) (string, error) {
	_, id, err := parseDelegatePublicKey(pemBytes)
	return id, err
}

func parseDelegatePublicKey(pemBytes []byte) (data.PublicKey, string, error) {
	pub, err := utils.ParsePEMPublicKey(pemBytes)
	if err != nil {
		return nil, "", fmt.Errorf("delegate key: %w (give a PEM CERTIFICATE or PUBLIC KEY)", err)
	}
	keyID, err := utils.CanonicalKeyID(pub)
	if err != nil {
		return nil, "", fmt.Errorf("delegate key: %w", err)
	}
	return pub, keyID, nil
}

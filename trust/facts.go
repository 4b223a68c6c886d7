package trust

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/theupdateframework/notary/client"
	"github.com/theupdateframework/notary/storage"
	"github.com/theupdateframework/notary/trustmanager"
	"github.com/theupdateframework/notary/trustpinning"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/trust/names"
)

// Role is one published role.
type Role struct {
	Name string
	// KeyIDs as the metadata lists them: for root, the certificate-wrapped
	// IDs; for delegations, canonical IDs (as `notary delegation list`).
	KeyIDs []string
	// CanonicalKeyIDs are the IDs of the bare public keys (`notary key list`).
	CanonicalKeyIDs []string
	Threshold       int
	Paths           []string `json:",omitempty"` // delegations; "" is every path
}

// Facts is what the server publishes for a repository, read back and
// validated against the pinned CA, for the transcript.
type Facts struct {
	GUN string
	// RootKeyIDs are the TUF key IDs in root.json: the repository
	// certificate's key, wrapped in the certificate.
	RootKeyIDs []string
	// CanonicalRootKeyIDs are the same keys as `notary key list` shows them.
	CanonicalRootKeyIDs []string
	RootSHA256          string // hex sha256 of root.json as the server serves it
	RootVersion         int
	// RootJSON is root.json as the server serves it, validated against the
	// pinned CA: the transcript inlines it so an auditor can re-run notary's
	// root validation offline, years later.
	RootJSON []byte `json:"-"`
	Roles    []Role // sorted by name
}

// Role returns the published role called name.
func (f *Facts) Role(name string) (Role, bool) {
	for _, r := range f.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// ErrNotPublished is returned when the server has no trust data for a GUN.
var ErrNotPublished = errors.New("not initialised on the notary server")

// published reads what the server holds for g through a fresh, pinned,
// read-only client. ErrNotPublished when it holds nothing.
func (c *Client) published(ctx context.Context, g data.GUN) (*Facts, error) {
	f, _, err := c.publishedWithCache(ctx, g)
	return f, err
}

// readBack is published after Init published g: it also leaves the
// snapshot.json and targets.json it validated in the trust dir's cache, as
// notary's own update does with what it downloads. The snapshot key's
// rotation, which follows init, then finds them there, validates them as if
// downloaded, and does not download them again (root.json is there since
// init; timestamp.json is always downloaded).
//
// The cache is only a saving: a publish that succeeded does not fail because
// it could not be written (a full disk fails the next step, which says so),
// and what notary finds there it validates before use.
func (c *Client) readBack(ctx context.Context, g data.GUN) (*Facts, error) {
	f, mem, err := c.publishedWithCache(ctx, g)
	if err != nil {
		return nil, err
	}
	c.prime(g, mem)
	return f, nil
}

// prime copies snapshot.json and targets.json from mem into g's cache in the
// trust dir, or as much as it can.
func (c *Client) prime(g data.GUN, mem storage.MetadataStore) {
	disk, err := storage.NewFileStore(filepath.Join(c.gunDir(g), "metadata"), "json")
	if err != nil {
		return
	}
	for _, role := range []data.RoleName{data.CanonicalSnapshotRole, data.CanonicalTargetsRole} {
		raw, err := mem.GetSized(role.String(), storage.NoSizeLimit)
		if err != nil || disk.Set(role.String(), raw) != nil {
			return
		}
	}
}

// publishedWithCache is published, and the store holding the metadata it
// downloaded and validated.
func (c *Client) publishedWithCache(ctx context.Context, g data.GUN) (*Facts, storage.MetadataStore, error) {
	repo, cache, _, err := c.openReader(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	loaded, err := repo.ListRoles()
	if err != nil {
		return nil, nil, readError(g, err)
	}
	delegations, err := delegationsOf(cache)
	if err != nil {
		return nil, nil, fmt.Errorf("targets.json: %w", err)
	}
	// The cache holds the root.json that was downloaded and validated.
	raw, err := cache.GetSized(data.CanonicalRootRole.String(), storage.NoSizeLimit)
	if err != nil {
		return nil, nil, fmt.Errorf("root.json: %w", err)
	}
	root, err := parseRoot(raw)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(raw)
	f := &Facts{GUN: g.String(), RootSHA256: hex.EncodeToString(sum[:]), RootVersion: root.Signed.Version, RootJSON: raw}
	canonical := func(id string) string {
		if k, ok := root.Signed.Keys[id]; ok {
			if cid, err := utils.CanonicalKeyID(k); err == nil {
				return cid
			}
		}
		return id
	}
	for _, r := range loaded {
		if data.IsDelegation(r.Name) {
			continue
		}
		role := Role{Name: r.Name.String(), KeyIDs: sorted(r.KeyIDs), Threshold: r.Threshold}
		for _, id := range role.KeyIDs {
			role.CanonicalKeyIDs = append(role.CanonicalKeyIDs, canonical(id))
		}
		f.Roles = append(f.Roles, role)
		if r.Name == data.CanonicalRootRole {
			f.RootKeyIDs, f.CanonicalRootKeyIDs = role.KeyIDs, role.CanonicalKeyIDs
		}
	}
	for _, d := range delegations {
		// notary translates delegation key IDs to canonical ones already.
		f.Roles = append(f.Roles, Role{Name: d.Name.String(), KeyIDs: sorted(d.KeyIDs), CanonicalKeyIDs: sorted(d.KeyIDs), Threshold: d.Threshold, Paths: d.Paths})
	}
	sort.Slice(f.Roles, func(i, j int) bool { return f.Roles[i].Name < f.Roles[j].Name })
	return f, cache, nil
}

// delegationsOf reads the delegations from the targets.json the update just
// downloaded and validated into cache, with canonical key IDs, as notary's
// GetDelegationRoles gives them; that call would update the repository from
// the server a second time, four more round trips a publish. The ceremony
// delegates only under targets, so targets.json holds them all.
func delegationsOf(cache storage.MetadataStore) ([]data.Role, error) {
	raw, err := cache.GetSized(data.CanonicalTargetsRole.String(), storage.NoSizeLimit)
	if err != nil {
		return nil, err
	}
	var signed data.Signed
	if err := json.Unmarshal(raw, &signed); err != nil {
		return nil, err
	}
	targets, err := data.TargetsFromSigned(&signed, data.CanonicalTargetsRole)
	if err != nil {
		return nil, err
	}
	d := targets.Signed.Delegations
	out := make([]data.Role, 0, len(d.Roles))
	for _, r := range d.Roles {
		role := *r
		role.KeyIDs = nil
		for _, id := range r.KeyIDs {
			k, ok := d.Keys[id]
			if !ok {
				return nil, fmt.Errorf("delegation %s names key %s, which targets.json does not hold", r.Name, id)
			}
			cid, err := utils.CanonicalKeyID(k)
			if err != nil {
				return nil, fmt.Errorf("delegation %s: key %s: %w", r.Name, id, err)
			}
			role.KeyIDs = append(role.KeyIDs, cid)
		}
		out = append(out, role)
	}
	return out, nil
}

// readError turns notary's read errors into one line that says what to do.
func readError(g data.GUN, err error) error {
	var (
		notExist client.ErrRepositoryNotExist
		noTarget client.ErrNoSuchTarget
	)
	switch {
	case errors.As(err, &notExist):
		return fmt.Errorf("%s: %w", g, ErrNotPublished)
	case errors.As(err, &noTarget):
		return fmt.Errorf("%s has no signed target %s", g, string(noTarget))
	}
	var pin *trustpinning.ErrValidationFail
	if errors.As(err, &pin) {
		return fmt.Errorf("%w: the server's root for %s is not accepted under the pinned CA", err, g)
	}
	return accessError(err)
}

// accessError explains notary's bare 401: the token the account got does
// not cover the operation.
func accessError(err error) error {
	var denied storage.ErrServerUnavailable
	if errors.As(err, &denied) && strings.Contains(denied.Error(), "401") {
		return fmt.Errorf("%w The token server gave no access for this: give notary.auth (or --auth) for an account allowed it (pull to read, push to publish, * to rotate a key)", err)
	}
	return lostError(err)
}

// lostError explains a server that went away in the middle of a request
// (killed, restarting, its signer or database down), which notary reports
// as a bare "EOF" or reset, a 5xx, or the signer's gRPC error: what the
// server committed stays, and a run again redoes only what it lacks.
// notary formats some of these into its own errors' text ("unable to
// rotate remote key: EOF"), so the text is what is left to read.
func lostError(err error) error {
	var network storage.NetworkError
	msg := err.Error()
	switch {
	case strings.Contains(msg, "rpc error: code = Unavailable"): // the server's answer, quoting its signer's connection
		return fmt.Errorf("%w: notary-server lost its notary-signer; once the signer is back, run again", err)
	case strings.Contains(msg, "unable to reach trust server at this time: 5"): // storage.ErrServerUnavailable, a 5xx
		return fmt.Errorf("%w: the notary server failed; bring back what its /_notary_server/health names (notary-signer, its database), then run again", err)
	case strings.HasSuffix(msg, "trust server rejected operation."): // a 400 without a reason
		// notary-server answers 400 INVALID_UPDATE with no detail when
		// checking an update fails on an error it cannot serialize: its
		// database (or signer) failing mid-check, seen with PostgreSQL
		// crashed mid-publish. An update it finds wrong says why.
		return fmt.Errorf("%w: notary-server refused the update without a reason, as it does when its database or notary-signer fails while checking it; once its /_notary_server/health is 200, run again", err)
	case strings.Contains(msg, "connection refused"): // nothing listens: it never began
		return fmt.Errorf("%w: the notary server refused the connection (is it running?); once it answers, run again", err)
	case errors.As(err, &network), msg == "EOF", strings.HasSuffix(msg, ": EOF"),
		strings.Contains(msg, "connection reset by peer"):
		return fmt.Errorf("%w: the notary server broke off the request (is it running?); once it answers, run again", err)
	}
	return err
}

// keyError explains notary's terse key errors.
func keyError(err error) error {
	var (
		pass     trustmanager.ErrPasswordInvalid
		attempts trustmanager.ErrAttemptsExceeded
	)
	if errors.As(err, &pass) || errors.As(err, &attempts) {
		return fmt.Errorf("%w: check the targets/snapshot/delegation passphrase (and the token PIN)", err)
	}
	return accessError(err)
}

func parseRoot(raw []byte) (*data.SignedRoot, error) {
	var s data.Signed
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("root.json: %w", err)
	}
	root, err := data.RootFromSigned(&s)
	if err != nil {
		return nil, fmt.Errorf("root.json: %w", err)
	}
	return root, nil
}

// checkGUN applies notary's repository naming rule (names.CheckGUN) and
// types the name for notary's API.
func checkGUN(gun string) (data.GUN, error) {
	if err := names.CheckGUN(gun); err != nil {
		return "", err
	}
	return data.GUN(gun), nil
}

// checkDelegationRole applies notary's delegation naming rule
// (names.CheckRole) and types the role for notary's API.
func checkDelegationRole(role string) (data.RoleName, error) {
	if err := names.CheckRole(role); err != nil {
		return "", err
	}
	return data.RoleName(role), nil
}

// parseDigest accepts sha256:<hex> or the bare hex skopeo | sha256sum prints.
func parseDigest(s string) ([]byte, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "sha256:")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("digest %q: want sha256:<64 hex digits>", s)
	}
	return b, nil
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

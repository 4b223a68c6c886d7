package trust

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ManifestDigest reads the raw manifest the registry serves for ref and
// returns its sha256 digest (sha256:<hex>) and size in bytes: what `skopeo
// inspect --raw REF | sha256sum` and `| wc -c` print, and what a delegate
// signs. For a multi-platform image that is the index, as docker pushes it.
// Registry credentials come from the docker config, as docker's own.
func ManifestDigest(ctx context.Context, ref string) (string, int64, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", 0, fmt.Errorf("image reference %q: %w", ref, err)
	}
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return "", 0, fmt.Errorf("image %s is not in the registry", ref)
		}
		return "", 0, fmt.Errorf("image %s: %w", ref, err)
	}
	digest, _ := DigestOf(desc.Manifest)
	// By tag, the registry's Docker-Content-Digest is a claim we can check.
	if desc.Digest.Algorithm == "sha256" && desc.Digest.String() != digest {
		return "", 0, fmt.Errorf("image %s: the registry says its manifest is %s, the bytes it served hash to %s", ref, desc.Digest, digest)
	}
	return digest, int64(len(desc.Manifest)), nil
}

// Validation is notary's target next to the registry's manifest.
type Validation struct {
	Target         Target
	Image          string
	ManifestDigest string
	ManifestSize   int64
}

// Validate checks that notary's target for tag (`notary lookup`) is the
// manifest the registry serves for image: same sha256, same size.
func (c *Client) Validate(ctx context.Context, gun, tag, image string) (*Validation, error) {
	t, err := c.Lookup(ctx, gun, tag)
	if err != nil {
		return nil, err
	}
	digest, size, err := ManifestDigest(ctx, image)
	if err != nil {
		return nil, err
	}
	v := &Validation{Target: *t, Image: image, ManifestDigest: digest, ManifestSize: size}
	if err := Compare(*t, digest, size); err != nil {
		return v, err
	}
	return v, nil
}

// Compare is the check Validate makes, on facts already read.
func Compare(t Target, digest string, size int64) error {
	if t.Digest != digest || t.Size != size {
		return fmt.Errorf("notary says %s (%d bytes) for %s, the registry serves %s (%d bytes)", t.Digest, t.Size, t.Name, digest, size)
	}
	return nil
}

// DigestOf is a manifest's sha256 digest (sha256:<hex>) and size, as a
// registry names it: for `ceremony sign --manifest FILE`.
func DigestOf(manifest []byte) (string, int64) {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(manifest)), int64(len(manifest))
}

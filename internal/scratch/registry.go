package scratch

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is go-containerregistry's in-process OCI registry on a loopback
// port. go-containerregistry speaks plain HTTP to 127.0.0.1 by itself, so
// clients need no TLS setup for it.
type Registry struct {
	Host string // 127.0.0.1:PORT, the registry part of image references
	srv  *httptest.Server
}

// StartRegistry starts an empty in-memory registry; its request log goes to
// logw (nil discards it).
func StartRegistry(logw io.Writer) *Registry {
	if logw == nil {
		logw = io.Discard
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(logw, "registry: ", log.LstdFlags))))
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), srv: srv}
}

// Close stops the registry; its content is gone.
func (r *Registry) Close() { r.srv.Close() }

// Image is a pushed image: what notary signs is its manifest's sha256 and size.
type Image struct {
	Ref    string // HOST/REPO:TAG
	Digest string // sha256:<hex> of the raw manifest
	Size   int64  // bytes of the raw manifest
}

// PushRandomImage pushes a small random image (one layer) as repo:tag and
// returns its reference, manifest digest and manifest size.
func (r *Registry) PushRandomImage(ctx context.Context, repo, tag string) (Image, error) {
	ref, err := name.NewTag(r.Host + "/" + repo + ":" + tag)
	if err != nil {
		return Image{}, fmt.Errorf("push random image: %w", err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		return Image{}, fmt.Errorf("push random image: %w", err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return Image{}, fmt.Errorf("push random image %s: %w", ref, err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return Image{}, fmt.Errorf("push random image: %w", err)
	}
	dig, err := img.Digest()
	if err != nil {
		return Image{}, fmt.Errorf("push random image: %w", err)
	}
	return Image{Ref: ref.String(), Digest: dig.String(), Size: int64(len(raw))}, nil
}

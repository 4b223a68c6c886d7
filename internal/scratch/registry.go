package scratch

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is a registry on a loopback port: go-containerregistry's
// in-process one, or Debian's docker-registry (distribution 2.8) as a
// process. Both speak plain HTTP on 127.0.0.1, which go-containerregistry
// and docker accept there without TLS set-up.
type Registry struct {
	Host string // 127.0.0.1:PORT, the registry part of image references
	stop func() error
}

// StartRegistry starts an empty in-memory registry; its request log goes to
// logw (nil discards it).
func StartRegistry(logw io.Writer) *Registry {
	if logw == nil {
		logw = io.Discard
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(logw, "registry: ", log.LstdFlags))))
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), stop: func() error { srv.Close(); return nil }}
}

// DockerRegistryBinary is Debian's docker-registry package's server.
const DockerRegistryBinary = "docker-registry"

// StartDockerRegistry starts Debian's docker-registry on a free port of
// 127.0.0.1, storing under dir, and returns once its API answers. Stop it
// with Close, which stops it by its PID.
func StartDockerRegistry(ctx context.Context, dir string) (*Registry, error) {
	bin, err := exec.LookPath(DockerRegistryBinary)
	if err != nil {
		return nil, fmt.Errorf("start docker-registry: %w (install Debian's docker-registry package: make deps)", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "registry.yml")
	body := fmt.Sprintf("version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: %q}}\nhttp: {addr: %q}\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, fmt.Errorf("start docker-registry: %w", err)
	}
	d, err := startDaemon("docker-registry", exec.Command(bin, "serve", conf), filepath.Join(dir, "registry.log"), nil)
	if err != nil {
		return nil, err
	}
	r := &Registry{Host: addr, stop: func() error { return d.stop(syscall.SIGTERM) }}
	if err := d.waitFor(ctx, func(ctx context.Context) error { return ping(ctx, "http://"+addr+"/v2/") }); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// ping is nil once GET url answers 200.
func ping(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// Close stops the registry. The in-process one's content is gone; the
// process's stays in its directory.
func (r *Registry) Close() {
	if err := r.stop(); err != nil {
		log.Printf("scratch: %v", err)
	}
}

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

package testenv

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPushRandomImage checks that the digest and size PushRandomImage reports
// are those of the raw manifest the registry serves (skopeo inspect --raw).
func TestPushRandomImage(t *testing.T) {
	ctx := context.Background()
	r := RegistryT(t)
	img, err := r.PushRandomImage(ctx, "demo/nginx", "latest")
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != r.Host+"/demo/nginx:latest" {
		t.Errorf("ref %q", img.Ref)
	}
	ref, err := name.ParseReference(img.Ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("sha256:%x", sha256.Sum256(desc.Manifest)); got != img.Digest {
		t.Errorf("served manifest hashes to %s, PushRandomImage said %s", got, img.Digest)
	}
	if int64(len(desc.Manifest)) != img.Size {
		t.Errorf("served manifest is %d bytes, PushRandomImage said %d", len(desc.Manifest), img.Size)
	}
	other, err := r.PushRandomImage(ctx, "demo/nginx", "other")
	if err != nil {
		t.Fatal(err)
	}
	if other.Digest == img.Digest {
		t.Error("two random images have the same digest")
	}
}

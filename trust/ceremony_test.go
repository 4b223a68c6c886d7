package trust

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/trust/names"
)

// TestCeremony runs the seed's steps 4-8 against the real notary-server with
// the root key in a SoftHSM2 token, then has the official notary CLI read
// the result from an empty trust dir, pinned to the ceremony CA.
func TestCeremony(t *testing.T) {
	ctx := context.Background()
	const gun, role, tag = "docker.io/alice/nginx", "targets/me", "latest"
	srv := testenv.NotaryServerT(t)
	reg := testenv.RegistryT(t)
	o := newOwner(t, srv, gun)
	certKeyID := utils.CertToKey(o.repoCert).ID()
	canonicalID, err := utils.CanonicalKeyID(utils.CertToKey(o.repoCert))
	if err != nil {
		t.Fatal(err)
	}
	if ids := o.store.IDs(); !slices.Equal(ids, []string{canonicalID}) {
		t.Fatalf("token store lists %v, the repository certificate certifies %s", ids, canonicalID)
	}

	// Step 4: notary init --publish --rootcert.
	in, err := o.client.Init(ctx, gun, o.repoCert)
	if err != nil {
		t.Fatal(err)
	}
	if in.AlreadyInitialised || in.Resumed {
		t.Errorf("first init: %+v", in)
	}
	if !slices.Equal(in.RootKeyIDs, []string{certKeyID}) || !slices.Equal(in.CanonicalRootKeyIDs, []string{canonicalID}) || certKeyID == canonicalID {
		t.Errorf("root key IDs %v / canonical %v, want %s / %s", in.RootKeyIDs, in.CanonicalRootKeyIDs, certKeyID, canonicalID)
	}
	if in.RootVersion != 1 {
		t.Errorf("root version %d after init", in.RootVersion)
	}
	for _, r := range []string{"root", "snapshot", "targets", "timestamp"} {
		if _, ok := in.Role(r); !ok {
			t.Errorf("init published no %s role: %+v", r, in.Roles)
		}
	}
	checkRootJSON(t, srv, gun, in.Facts, certKeyID)
	// targets and snapshot keys: passphrase-protected files in the CLI layout
	targets, _ := in.Role("targets")
	snap1, _ := in.Role("snapshot")
	for _, id := range append(slices.Clone(targets.KeyIDs), snap1.KeyIDs...) {
		b, err := os.ReadFile(filepath.Join(o.cfg.TrustDir, "private", id+".key"))
		if err != nil {
			t.Fatalf("key file of %s: %v", id, err)
		}
		if !strings.Contains(string(b), "ENCRYPTED PRIVATE KEY") || !strings.Contains(string(b), "gun: "+gun) {
			t.Errorf("key file %s is not an encrypted notary key for %s:\n%s", id, gun, b)
		}
	}
	if _, err := os.Stat(filepath.Join(o.cfg.TrustDir, "private", canonicalID+".key")); err == nil {
		t.Error("the root key was written to the file store")
	}

	// A re-run (crash after publish) reports the same facts.
	again, err := o.client.Init(ctx, gun, o.repoCert)
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyInitialised || again.RootSHA256 != in.RootSHA256 {
		t.Errorf("second init: %+v", again)
	}

	// Step 5: snapshot key to the server; root v2 signed by the token.
	rot, err := o.client.RotateSnapshotToServer(ctx, gun)
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := rot.Role("snapshot")
	if rot.AlreadyServerManaged || rot.RootVersion != 2 || !slices.Equal(snap.KeyIDs, []string{rot.ServerSnapshotKeyID}) || slices.Equal(snap.KeyIDs, snap1.KeyIDs) {
		t.Errorf("rotation: %+v", rot)
	}
	if got := serverKeyID(t, srv, gun, "snapshot"); got != rot.ServerSnapshotKeyID {
		t.Errorf("server's snapshot.key is %s, the result says %s", got, rot.ServerSnapshotKeyID)
	}
	checkRootJSON(t, srv, gun, rot.Facts, certKeyID)
	if _, err := os.Stat(filepath.Join(o.cfg.TrustDir, "private", snap1.KeyIDs[0]+".key")); err == nil {
		t.Error("the retired snapshot key file is still there")
	}
	if rot2, err := o.client.RotateSnapshotToServer(ctx, gun); err != nil || !rot2.AlreadyServerManaged || rot2.RootVersion != 2 {
		t.Errorf("second rotation: %+v, %v", rot2, err)
	}

	// Step 6: delegation of targets/me to the delegate's PUBLIC KEY.
	privPEM, pubPEM := delegateKeys(t, "me")
	del, err := o.client.AddDelegation(ctx, gun, []string{role}, pubPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	me, ok := del.Role(role)
	if del.AlreadyPresent || !ok || !slices.Equal(me.KeyIDs, []string{del.KeyID}) || !slices.Equal(me.Paths, []string{""}) {
		t.Errorf("delegation: %+v", del)
	}
	if del2, err := o.client.AddDelegation(ctx, gun, []string{role}, pubPEM, []string{""}); err != nil || !del2.AlreadyPresent {
		t.Errorf("second delegation: %+v, %v", del2, err)
	}

	// Step 7, on the delegate's own device: its trust dir, no token.
	img, err := reg.PushRandomImage(ctx, "alice/nginx", tag)
	if err != nil {
		t.Fatal(err)
	}
	digest, size, err := ManifestDigest(ctx, img.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if digest != img.Digest || size != img.Size {
		t.Fatalf("ManifestDigest = %s %d, pushed %s %d", digest, size, img.Digest, img.Size)
	}
	dcfg := o.cfg
	dcfg.Token, dcfg.TrustDir, dcfg.Passphrases = nil, filepath.Join(t.TempDir(), "delegate-trust"), Passphrases{}
	delegate := newClient(t, dcfg)
	key, err := DelegateKeyFromPEM(privPEM, testDelegatePass)
	if err != nil {
		t.Fatal(err)
	}
	if key.ID() != del.KeyID {
		t.Fatalf("delegate key %s, delegation has %s", key.ID(), del.KeyID)
	}
	tr, err := delegate.AddTarget(ctx, gun, []string{role}, tag, digest, size, key)
	if err != nil {
		t.Fatal(err)
	}
	want := Target{GUN: gun, Name: tag, Digest: digest, Size: size, Role: role}
	if tr.AlreadyPresent || !slices.Equal(tr.Targets, []Target{want}) {
		t.Errorf("AddTarget = %+v, want %+v", tr, want)
	}
	if tr2, err := delegate.AddTarget(ctx, gun, []string{role}, tag, strings.TrimPrefix(digest, "sha256:"), size, key); err != nil || !tr2.AlreadyPresent {
		t.Errorf("second AddTarget: %+v, %v", tr2, err)
	}

	// Step 8: notary's target is the registry's manifest.
	v, err := delegate.Validate(ctx, gun, tag, img.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if v.Target != want || v.ManifestDigest != digest || v.ManifestSize != size {
		t.Errorf("Validate = %+v", v)
	}
	other, err := reg.PushRandomImage(ctx, "alice/nginx", "other")
	if err != nil {
		t.Fatal(err)
	}
	_, err = delegate.Validate(ctx, gun, tag, other.Ref)
	wantErr := fmt.Sprintf("notary says %s (%d bytes) for %s, the registry serves %s (%d bytes)", digest, size, tag, other.Digest, other.Size)
	if err == nil || err.Error() != wantErr {
		t.Errorf("Validate against another image: %v, want %q", err, wantErr)
	}

	// A docker signer (docker trust signer add bob): its key in
	// targets/releases and targets/bob, one publish; bob signs with no role
	// named, into both, as docker trust sign does.
	bobPriv, bobPub := delegateKeys(t, "bob")
	bobDel, err := o.client.AddDelegation(ctx, gun, []string{names.Releases, "targets/bob"}, bobPub, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{names.Releases, "targets/bob"} {
		if have, ok := bobDel.Role(r); !ok || !slices.Equal(have.KeyIDs, []string{bobDel.KeyID}) {
			t.Errorf("%s after the docker signer: %+v", r, have)
		}
	}
	if again, err := o.client.AddDelegation(ctx, gun, []string{names.Releases, "targets/bob"}, bobPub, nil); err != nil || !again.AlreadyPresent {
		t.Errorf("second docker signer delegation: %+v, %v", again, err)
	}
	bob, err := DelegateKeyFromPEM(bobPriv, testDelegatePass)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := delegate.AddTarget(ctx, gun, nil, "v2", digest, size, bob)
	if err != nil {
		t.Fatal(err)
	}
	if got := signed.Roles(); signed.AlreadyPresent || !slices.Equal(got, []string{"targets/bob", names.Releases}) {
		t.Errorf("bob signed into %v (already %v), want targets/bob and %s", got, signed.AlreadyPresent, names.Releases)
	}
	if again, err := delegate.AddTarget(ctx, gun, nil, "v2", digest, size, bob); err != nil || !again.AlreadyPresent {
		t.Errorf("bob's second signing: %+v, %v", again, err)
	}
	if _, err := delegate.AddTarget(ctx, gun, []string{names.Releases}, "v3", digest, size, key); err == nil || !strings.Contains(err.Error(), "is not a key of targets/releases") {
		t.Errorf("me signing into %s: %v", names.Releases, err)
	}

	// Interop: the official CLI, from an empty trust dir, pinned to the CA.
	cli := testenv.NotaryCLI(t, srv, o.caFile, gun)
	hexDigest := strings.TrimPrefix(digest, "sha256:")
	if out := cli("lookup", gun, tag); strings.TrimSpace(out) != fmt.Sprintf("%s sha256:%s %d", tag, hexDigest, size) {
		t.Errorf("notary lookup printed %q, the registry serves %s %d", out, digest, size)
	}
	if out := cli("list", gun); !strings.Contains(out, tag) || !strings.Contains(out, hexDigest) || !strings.Contains(out, fmt.Sprint(size)) || !strings.Contains(out, role) {
		t.Errorf("notary list:\n%s", out)
	}
	if out := cli("delegation", "list", gun); !strings.Contains(out, role) || !strings.Contains(out, del.KeyID) {
		t.Errorf("notary delegation list:\n%s", out)
	}
	// The owner's trust dir is the CLI's layout: it lists the targets key.
	if out := cli("-d", o.cfg.TrustDir, "key", "list"); !strings.Contains(out, targets.KeyIDs[0]) || !strings.Contains(out, gun) {
		t.Errorf("notary key list on the owner's trust dir:\n%s", out)
	}
	// Pinned to another CA, the CLI refuses the repository.
	otherCA := newOwner(t, srv, gun).caFile
	if out, err := testenv.NotaryCLIMayFail(t, srv, otherCA, gun)("list", gun); err == nil {
		t.Errorf("the CLI pinned to another CA listed the repository:\n%s", out)
	}
}

// checkRootJSON fetches root.json from the server directly and checks it is
// the one the facts describe, with the repository certificate's key as root.
func checkRootJSON(t *testing.T, srv *testenv.NotaryServer, gun string, f Facts, certKeyID string) {
	t.Helper()
	raw, code, err := srv.Get(context.Background(), "/v2/"+gun+"/_trust/tuf/root.json")
	if err != nil || code != 200 {
		t.Fatalf("GET root.json: %d, %v", code, err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != f.RootSHA256 {
		t.Errorf("server's root.json hashes to %x, facts say %s", sum, f.RootSHA256)
	}
	var s data.Signed
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	root, err := data.RootFromSigned(&s)
	if err != nil {
		t.Fatal(err)
	}
	if root.Signed.Version != f.RootVersion || !slices.Equal(root.Signed.Roles["root"].KeyIDs, []string{certKeyID}) {
		t.Errorf("root.json v%d root keys %v, want v%d %s", root.Signed.Version, root.Signed.Roles["root"].KeyIDs, f.RootVersion, certKeyID)
	}
	for _, sig := range root.Signatures {
		if sig.KeyID != certKeyID || sig.Method != data.ECDSASignature || len(sig.Signature) != 64 {
			t.Errorf("root signature %s %s %d bytes", sig.KeyID, sig.Method, len(sig.Signature))
		}
	}
}

func serverKeyID(t *testing.T, srv *testenv.NotaryServer, gun, role string) string {
	t.Helper()
	raw, code, err := srv.Get(context.Background(), "/v2/"+gun+"/_trust/tuf/"+role+".key")
	if err != nil || code != 200 {
		t.Fatalf("GET %s.key: %d, %v", role, code, err)
	}
	k, err := data.UnmarshalPublicKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID()
}

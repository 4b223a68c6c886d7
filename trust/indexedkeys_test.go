package trust

import (
	"errors"
	"testing"

	"github.com/theupdateframework/notary/trustmanager"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"
)

// TestIndexedKeys: the key file store answers from its index. A key it
// holds is found, decrypted, whether it was added through it or was on disk
// when it was made; a key it does not hold is "not found" without reading
// trust_dir/private, which is what notary's own GetKey does for every key
// it has not decrypted yet. The proof is a key file written behind the
// store's back: notary's walk finds it, the index does not.
func TestIndexedKeys(t *testing.T) {
	dir := t.TempDir()
	pass := func(string, string, bool, int) (string, bool, error) { return "a passphrase", false, nil }
	newKey := func() data.PrivateKey {
		k, err := utils.GenerateECDSAKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	onDisk, added, behind, elsewhere := newKey(), newKey(), newKey(), newKey()
	add := func(k data.PrivateKey) {
		ks, err := trustmanager.NewKeyFileStore(dir, pass)
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.AddKey(trustmanager.KeyInfo{Role: data.CanonicalSnapshotRole, Gun: "docker.io/a/b"}, k); err != nil {
			t.Fatal(err)
		}
	}
	add(onDisk)
	generic, err := trustmanager.NewKeyFileStore(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	ks := indexedKeys{generic}
	if err := ks.AddKey(trustmanager.KeyInfo{Role: data.CanonicalSnapshotRole, Gun: "docker.io/a/b"}, added); err != nil {
		t.Fatal(err)
	}
	add(behind)
	for _, tc := range []struct {
		name  string
		key   data.PrivateKey
		found bool
	}{
		{"on disk when the store was made", onDisk, true},
		{"added through the store", added, true},
		{"written behind the store's back", behind, false},
		{"held elsewhere (the token)", elsewhere, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, role, err := ks.GetKey(tc.key.ID())
			if !tc.found {
				if !errors.As(err, new(trustmanager.ErrKeyNotFound)) {
					t.Fatalf("GetKey = %v, %v; want ErrKeyNotFound", k, err)
				}
				return
			}
			if err != nil || k.ID() != tc.key.ID() || role != data.CanonicalSnapshotRole {
				t.Fatalf("GetKey = %v, %q, %v; want the key, snapshot", k, role, err)
			}
		})
	}
	// notary's own store walks the directory and finds the key behind its back.
	if _, _, err := generic.GetKey(behind.ID()); err != nil {
		t.Fatalf("notary's GetKey of a key written behind its back: %v (the proof above proves nothing)", err)
	}
}

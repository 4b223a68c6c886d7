package trust

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"

	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// TestInitUnusableServer: with the server down, not speaking TLS, or its TLS
// certificate untrusted, Init fails before anything happens: one line naming
// the URL and the fix, no key made, nothing published.
func TestInitUnusableServer(t *testing.T) {
	ctx := context.Background()
	const gun = "docker.io/alice/down"
	srv := testenv.NotaryServerT(t)
	reg := testenv.RegistryT(t)
	o := newOwner(t, srv, gun)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name, url, tlsCA, want string
	}{
		{"server down", closed, srv.CAFile, "notary server " + closed + " is unreachable: connection refused"},
		{"TLS untrusted", srv.URL, "", "TLS certificate of " + srv.URL + " is not trusted"},
		{"TLS CA of someone else", srv.URL, o.caFile, "give its CA in notary.tls_ca"},
		{"not TLS", "https://" + reg.Host, "", "does not speak TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := o.cfg
			cfg.URL, cfg.TLSCA, cfg.TrustDir = tc.url, tc.tlsCA, filepath.Join(t.TempDir(), "trust")
			_, err := newClient(t, cfg).Init(ctx, gun, o.repoCert)
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Init: %v\nwant one line with %q", err, tc.want)
			}
			if f := files(t, cfg.TrustDir); len(f) != 0 {
				t.Errorf("the failed init left %v", f)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		cfg := o.cfg
		cfg.TrustDir = filepath.Join(t.TempDir(), "trust")
		_, err := newClient(t, cfg).Init(cctx, gun, o.repoCert)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Init with a cancelled context: %v", err)
		}
		if f := files(t, cfg.TrustDir); len(f) != 0 {
			t.Errorf("the cancelled init left %v", f)
		}
	})
	if _, code, err := srv.Get(ctx, "/v2/"+gun+"/_trust/tuf/root.json"); err != nil || code != 404 {
		t.Errorf("server has root.json for %s after the failed inits: %d, %v", gun, code, err)
	}
	if _, err := o.client.published(ctx, gun); !errors.Is(err, ErrNotPublished) {
		t.Errorf("published: %v", err)
	}
	if _, err := New(Config{URL: "http://" + reg.Host, TrustDir: t.TempDir(), PinCA: o.caFile}); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("plain http URL: %v", err)
	}
}

// TestInitResume: what an interrupted run leaves must not break a re-run.
func TestInitResume(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NotaryServerT(t)

	t.Run("initialised locally, publish never happened", func(t *testing.T) {
		const gun = "docker.io/alice/resume"
		o := newOwner(t, srv, gun)
		localTargets := initLocally(t, o, gun)
		res, err := o.client.Init(ctx, gun, o.repoCert)
		if err != nil {
			t.Fatal(err)
		}
		targets, _ := res.Role("targets")
		if !res.Resumed || !slices.Equal(targets.KeyIDs, localTargets) {
			t.Errorf("Resumed %v, targets key %v, want the local %v", res.Resumed, targets.KeyIDs, localTargets)
		}
		if keys := files(t, filepath.Join(o.cfg.TrustDir, "private")); len(keys) != 2 {
			t.Errorf("key files %v: the resume made new keys", keys)
		}
	})

	t.Run("half-made local state is replaced", func(t *testing.T) {
		const gun = "docker.io/alice/leftovers"
		o := newOwner(t, srv, gun)
		localTargets := initLocally(t, o, gun)
		// The snapshot key file is lost and a stray change waits in the changelist.
		root, err := os.ReadFile(filepath.Join(o.client.gunDir(gun), "metadata", "root.json"))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := parseRoot(root)
		if err := os.Remove(filepath.Join(o.cfg.TrustDir, "private", r.Signed.Roles["snapshot"].KeyIDs[0]+".key")); err != nil {
			t.Fatal(err)
		}
		cl := filepath.Join(o.client.gunDir(gun), "changelist")
		if err := os.WriteFile(filepath.Join(cl, "01_stray.change"), []byte(`{"action":"create","role":"targets","type":"target","path":"x","data":null}`), 0o600); err != nil {
			t.Fatal(err)
		}
		// A new process finds it so (a client reads the key files once).
		again, err := New(o.cfg)
		if err != nil {
			t.Fatal(err)
		}
		res, err := again.Init(ctx, gun, o.repoCert)
		if err != nil {
			t.Fatal(err)
		}
		targets, _ := res.Role("targets")
		if res.Resumed || slices.Equal(targets.KeyIDs, localTargets) || res.RootVersion != 1 {
			t.Errorf("%+v", res)
		}
		if _, err := o.client.Lookup(ctx, gun, "x"); err == nil {
			t.Error("the stray change was published")
		}
	})

	t.Run("published with another root key", func(t *testing.T) {
		const gun = "docker.io/alice/taken"
		o := newOwner(t, srv, gun)
		if _, err := o.client.Init(ctx, gun, o.repoCert); err != nil {
			t.Fatal(err)
		}
		_, err := o.client.Init(ctx, gun, o.issueRepo(t, o.rootKey, gun))
		if err == nil || !strings.Contains(err.Error(), "with this root key under another certificate") {
			t.Errorf("Init with a re-issued certificate: %v", err)
		}
		root2, err := o.sess.GenerateKey(ctx, hsm.KeySpec{Label: "root2", Type: keyspec.ECDSAP256})
		if err != nil {
			t.Fatal(err)
		}
		cfg := o.cfg
		if cfg.Token, err = NewKeyStore(ctx, o.sess, nil, KeyRef{Key: hsm.KeySelector{Label: "root2"}, Role: data.CanonicalRootRole}); err != nil {
			t.Fatal(err)
		}
		_, err = newClient(t, cfg).Init(ctx, gun, o.issueRepo(t, root2, gun))
		if err == nil || !strings.Contains(err.Error(), "already has "+gun+" with root key") {
			t.Errorf("Init over another root: %v", err)
		}
	})
}

// initLocally is an Init interrupted between notary's local initialisation
// and the publish. It returns the targets key IDs it made.
func initLocally(t *testing.T, o *owner, gun string) []string {
	t.Helper()
	ctx := context.Background()
	repo, err := o.client.openWriter(ctx, data.GUN(gun), o.client.tokenStores(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.InitializeWithCertificate(nil, []data.PublicKey{utils.CertToKey(o.repoCert)}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(o.client.gunDir(data.GUN(gun)), "metadata", "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseRoot(raw)
	if err != nil {
		t.Fatal(err)
	}
	return r.Signed.Roles["targets"].KeyIDs
}

// TestBadInput: each mistake an operator or delegate can make gets one clear
// line, and nothing is published.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	const gun, role = "docker.io/alice/bad", "targets/me"
	srv := testenv.NotaryServerT(t)
	reg := testenv.RegistryT(t)
	o := newOwner(t, srv, gun)
	in, err := o.client.Init(ctx, gun, o.repoCert)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, pubPEM := delegateKeys(t, "me")
	if _, err := o.client.AddDelegation(ctx, gun, []string{role}, pubPEM, []string{"releases/"}); err != nil {
		t.Fatal(err)
	}
	key, err := DelegateKeyFromPEM(privPEM, testDelegatePass)
	if err != nil {
		t.Fatal(err)
	}
	_, strangerPEM := delegateKeys(t, "stranger")
	strangerPriv, _ := delegateKeys(t, "stranger")
	stranger, err := DelegateKeyFromPEM(strangerPriv, testDelegatePass)
	if err != nil {
		t.Fatal(err)
	}
	img, err := reg.PushRandomImage(ctx, "alice/bad", "v1")
	if err != nil {
		t.Fatal(err)
	}
	otherOwner := newOwner(t, srv, gun) // same GUN, another CA
	certBlock, _ := pem.Decode(pubPEM)
	certLike := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certBlock.Bytes})

	for _, tc := range []struct {
		name string
		run  func() error
		want string
	}{
		{"delegate PEM unparsable", func() error {
			_, err := o.client.AddDelegation(ctx, gun, []string{role}, []byte("not a key"), nil)
			return err
		}, "delegate key: no valid public key found"},
		{"delegate PEM is a private key", func() error {
			_, err := o.client.AddDelegation(ctx, gun, []string{role}, privPEM, nil)
			return err
		}, `unsupported PEM block type "ENCRYPTED PRIVATE KEY"`},
		{"delegate certificate unparsable", func() error {
			_, err := o.client.AddDelegation(ctx, gun, []string{role}, certLike, nil)
			return err
		}, "could not parse provided certificate"},
		{"role without targets/ prefix", func() error {
			_, err := o.client.AddDelegation(ctx, gun, []string{"me"}, strangerPEM, nil)
			return err
		}, `role "me" is not a delegation role`},
		{"role targets itself", func() error {
			_, err := o.client.AddDelegation(ctx, gun, []string{"targets"}, strangerPEM, nil)
			return err
		}, `role "targets" is not a delegation role`},
		{"role not clean", func() error {
			_, err := o.client.AddDelegation(ctx, gun, []string{"targets/../me"}, strangerPEM, nil)
			return err
		}, "is not a delegation role"},
		{"delegation on an unpublished GUN", func() error {
			_, err := o.client.AddDelegation(ctx, "docker.io/alice/nothing", []string{role}, strangerPEM, nil)
			return err
		}, "docker.io/alice/nothing: " + ErrNotPublished.Error()},
		{"GUN mismatch with the cert's CN", func() error {
			_, err := o.client.Init(ctx, "docker.io/alice/other", o.repoCert)
			return err
		}, `CN "docker.io/alice/bad" does not match the GUN "docker.io/alice/other"`},
		{"repo cert not from the pinned CA", func() error {
			cfg := otherOwner.cfg
			cfg.PinCA = o.caFile
			_, err := newClient(t, cfg).Init(ctx, "docker.io/alice/bad", otherOwner.repoCert)
			return err
		}, "does not verify against the pinned CA"},
		{"repo cert over a key not in the token", func() error {
			_, err := o.client.Init(ctx, gun, otherOwner.repoCert)
			return err
		}, "which is not a root key in pkcs11:"},
		{"malformed GUN", func() error {
			_, err := o.client.Init(ctx, "../etc", o.repoCert)
			return err
		}, `GUN "../etc" is not a docker repository name`},
		{"digest malformed", func() error {
			_, err := o.client.AddTarget(ctx, gun, []string{role}, "v1", "sha256:abc", 10, key)
			return err
		}, "want sha256:<64 hex digits>"},
		{"size zero", func() error {
			_, err := o.client.AddTarget(ctx, gun, []string{role}, "v1", img.Digest, 0, key)
			return err
		}, "must be positive"},
		{"sign into a role without targets/ prefix", func() error {
			_, err := o.client.AddTarget(ctx, gun, []string{"me"}, "v1", img.Digest, img.Size, key)
			return err
		}, `role "me" is not a delegation role`},
		{"sign with a key not in the delegation", func() error {
			_, err := o.client.AddTarget(ctx, gun, []string{role}, "v1", img.Digest, img.Size, stranger)
			return err
		}, "is not a key of targets/me"},
		{"sign with a key in no delegation, no role named", func() error {
			_, err := o.client.AddTarget(ctx, gun, nil, "v1", img.Digest, img.Size, stranger)
			return err
		}, "is in no delegation of " + gun},
		{"sign into a delegation that does not exist", func() error {
			_, err := o.client.AddTarget(ctx, gun, []string{"targets/nobody"}, "v1", img.Digest, img.Size, key)
			return err
		}, "has no delegation targets/nobody"},
		{"delegate key file, wrong passphrase", func() error {
			_, err := DelegateKeyFromPEM(privPEM, []byte("not it"))
			return err
		}, "delegate key:"},
		{"delegate token URI malformed", func() error {
			_, err := DelegateKeyFromToken(ctx, o.sess, "pkcs11:object=x?pin-value=1234")
			return err
		}, "pin-value is refused"},
		{"tag not signed", func() error {
			_, err := o.client.Lookup(ctx, gun, "nope")
			return err
		}, gun + " has no signed target nope"},
		{"image not in the registry", func() error {
			_, _, err := ManifestDigest(ctx, reg.Host+"/alice/bad:missing")
			return err
		}, "is not in the registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v\nwant one line with %q", err, tc.want)
			}
			for _, p := range [][]byte{testPass.Targets, testPass.Snapshot, testDelegatePass} {
				if strings.Contains(err.Error(), string(p)) {
					t.Errorf("a passphrase shows in %q", err)
				}
			}
		})
	}
	after, err := o.client.published(ctx, gun)
	if err != nil {
		t.Fatal(err)
	}
	if after.RootSHA256 != in.RootSHA256 {
		t.Error("root.json changed")
	}
	if me, _ := after.Role(role); !slices.Equal(me.KeyIDs, []string{key.ID()}) {
		t.Errorf("delegation keys changed: %v", me.KeyIDs)
	}
	if _, err := o.client.Lookup(ctx, gun, "v1"); err == nil {
		t.Error("a bad AddTarget published v1")
	}
}

// TestDelegateTokenKey: a delegate whose key is in a token signs by pkcs11:
// URI, and the delegation was made from the PUBLIC KEY the token exports.
func TestDelegateTokenKey(t *testing.T) {
	ctx := context.Background()
	const gun, role, tag = "docker.io/alice/hsm", "targets/ci", "1.0"
	srv := testenv.NotaryServerT(t)
	o := newOwner(t, srv, gun)
	if _, err := o.client.Init(ctx, gun, o.repoCert); err != nil {
		t.Fatal(err)
	}
	if _, err := o.client.RotateSnapshotToServer(ctx, gun); err != nil {
		t.Fatal(err)
	}
	dsess := testenv.NewToken(t).Session(t)
	dk, err := dsess.GenerateKey(ctx, hsm.KeySpec{Label: "ci", Type: keyspec.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(dk.Public())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.client.AddDelegation(ctx, gun, []string{role}, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), []string{""}); err != nil {
		t.Fatal(err)
	}
	key, err := DelegateKeyFromToken(ctx, dsess, fmt.Sprintf("pkcs11:token=%s;object=ci;type=private", dsess.Token().Label))
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	cfg.Token, cfg.TrustDir, cfg.Passphrases = nil, filepath.Join(t.TempDir(), "ci-trust"), Passphrases{}
	digest := "sha256:" + strings.Repeat("ab", 32)
	res, err := newClient(t, cfg).AddTarget(ctx, gun, []string{role}, tag, digest, 1234, key)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Targets, []Target{{GUN: gun, Name: tag, Digest: digest, Size: 1234, Role: role}}) {
		t.Errorf("%+v", res)
	}
	if f := files(t, filepath.Join(cfg.TrustDir, "private")); len(f) != 0 {
		t.Errorf("the delegate's trust dir holds key files %v", f)
	}
}

func TestCheckGUN(t *testing.T) {
	for _, tc := range []struct {
		gun string
		ok  bool
	}{
		{"docker.io/alice/nginx", true},
		{"registry.example.com:5000/team/app", true},
		{"", false},
		{"/abs/path", false},
		{"../up", false},
		{"..", false},
		{"a/../b", false},
		{"a//b", false},
		{"a/b/", false},
		{"a b", false},
		{`a\b`, false},
	} {
		if _, err := checkGUN(tc.gun); (err == nil) != tc.ok {
			t.Errorf("checkGUN(%q) = %v", tc.gun, err)
		}
	}
}

func TestParseDigest(t *testing.T) {
	hex64 := strings.Repeat("0f", 32)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"sha256:" + hex64, true},
		{hex64, true},
		{" " + hex64 + "\n", true},
		{"sha512:" + hex64, false},
		{"sha256:" + hex64[:62], false},
		{"sha256:" + strings.Repeat("zz", 32), false},
		{"", false},
	} {
		b, err := parseDigest(tc.in)
		if (err == nil) != tc.ok || (tc.ok && len(b) != 32) {
			t.Errorf("parseDigest(%q) = %x, %v", tc.in, b, err)
		}
	}
}

func TestCompare(t *testing.T) {
	tg := Target{Name: "latest", Digest: "sha256:aa", Size: 948}
	for _, tc := range []struct {
		digest string
		size   int64
		want   string
	}{
		{"sha256:aa", 948, ""},
		{"sha256:bb", 948, "notary says sha256:aa (948 bytes) for latest, the registry serves sha256:bb (948 bytes)"},
		{"sha256:aa", 949, "notary says sha256:aa (948 bytes) for latest, the registry serves sha256:aa (949 bytes)"},
	} {
		err := Compare(tg, tc.digest, tc.size)
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("Compare(%s, %d) = %v, want %q", tc.digest, tc.size, err, tc.want)
		}
	}
}

// TestTargetsKeyInToken: with a targets key in the token, init uses it
// (no targets key file), and the delegation is signed there with no targets
// passphrase configured at all.
func TestTargetsKeyInToken(t *testing.T) {
	ctx := context.Background()
	const gun = "docker.io/alice/tokentargets"
	srv := testenv.NotaryServerT(t)
	o := newOwner(t, srv, gun)
	if _, err := o.sess.GenerateKey(ctx, hsm.KeySpec{Label: "targets", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	store, err := NewKeyStore(ctx, o.sess, nil,
		KeyRef{Key: hsm.KeySelector{Label: "root"}, Role: data.CanonicalRootRole},
		KeyRef{Key: hsm.KeySelector{Label: "targets"}, Role: data.CanonicalTargetsRole, GUN: gun})
	if err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	cfg.Token, cfg.Passphrases.Targets = store, nil
	c := newClient(t, cfg)
	res, err := c.Init(ctx, gun, o.repoCert)
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := res.Role("targets")
	if tk := store.targetsKey(gun); tk == nil || !slices.Equal(targets.CanonicalKeyIDs, []string{tk.ID()}) {
		t.Errorf("published targets key %v, token's %v", targets.CanonicalKeyIDs, store.IDs())
	}
	snap, _ := res.Role("snapshot")
	if keys := files(t, filepath.Join(cfg.TrustDir, "private")); !slices.Equal(keys, []string{snap.KeyIDs[0] + ".key"}) {
		t.Errorf("key files %v, want only the snapshot key", keys)
	}
	_, pubPEM := delegateKeys(t, "me")
	if _, err := c.AddDelegation(ctx, gun, []string{"targets/me"}, pubPEM, nil); err != nil {
		t.Fatal(err)
	}
}

// TestHasTrustDataOf: of many GUNs, the ones the server holds, in the
// order asked; asking many at once answers the same as one by one.
func TestHasTrustDataOf(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NotaryServerT(t)
	const held = "docker.io/alice/held"
	o := newOwner(t, srv, held)
	if _, err := o.client.Init(ctx, held, o.repoCert); err != nil {
		t.Fatal(err)
	}
	var guns []string
	for i := range 20 {
		guns = append(guns, fmt.Sprintf("docker.io/alice/new%d", i))
	}
	guns = slices.Insert(guns, 13, held)
	got, err := o.client.HasTrustDataOf(ctx, guns)
	if err != nil || !slices.Equal(got, []string{held}) {
		t.Fatalf("HasTrustDataOf = %v, %v; want [%s]", got, err, held)
	}
	for _, g := range []string{held, guns[0]} {
		one, err := o.client.HasTrustData(ctx, g)
		if err != nil || one != (g == held) {
			t.Errorf("HasTrustData(%s) = %v, %v", g, one, err)
		}
	}
	if _, err := o.client.HasTrustDataOf(ctx, []string{guns[0], "docker.io/Alice/bad"}); err == nil {
		t.Error("a bad GUN was asked about")
	}
}

// TestDelegationsOfMatchesNotary: the delegations read from the validated
// targets.json are notary's own GetDelegationRoles, key IDs canonical, for
// a docker signer's two roles.
func TestDelegationsOfMatchesNotary(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NotaryServerT(t)
	const gun = "docker.io/alice/delegations"
	o := newOwner(t, srv, gun)
	if _, err := o.client.Init(ctx, gun, o.repoCert); err != nil {
		t.Fatal(err)
	}
	_, pubPEM := delegateKeys(t, "me")
	if _, err := o.client.AddDelegation(ctx, gun, []string{"targets/releases", "targets/me"}, pubPEM, nil); err != nil {
		t.Fatal(err)
	}
	repo, cache, _, err := o.client.openReader(ctx, gun)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.ListRoles(); err != nil {
		t.Fatal(err)
	}
	ours, err := delegationsOf(cache)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := repo.GetDelegationRoles()
	if err != nil {
		t.Fatal(err)
	}
	byName := func(a, b data.Role) int { return strings.Compare(a.Name.String(), b.Name.String()) }
	slices.SortFunc(ours, byName)
	slices.SortFunc(theirs, byName)
	if len(ours) != 2 || !reflect.DeepEqual(ours, theirs) {
		t.Fatalf("delegations\n ours   %+v\n notary %+v", ours, theirs)
	}
}

// TestInitKnownNew: Init without its check for a repository already on the
// server (the caller's preflight made it) publishes a new one, and still
// refuses one that someone else published in the meantime.
func TestInitKnownNew(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NotaryServerT(t)

	t.Run("new", func(t *testing.T) {
		// The same init with and without the option: with it, the server is
		// asked for root.json less (the existence check preflight made).
		rootGETs := map[bool]int{}
		for _, known := range []bool{false, true} {
			gun := fmt.Sprintf("docker.io/alice/known-new-%t", known)
			o := newOwner(t, srv, gun)
			var opts []InitOption
			if known {
				opts = append(opts, KnownNew())
			}
			res, err := o.client.Init(ctx, gun, o.repoCert, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if res.AlreadyInitialised || res.Resumed || res.RootVersion != 1 {
				t.Errorf("%+v", res)
			}
			rootGETs[known] = serverGETs(t, srv, gun)["root"]
		}
		if rootGETs[true] >= rootGETs[false] {
			t.Errorf("root.json asked %d times with KnownNew, %d without: want fewer", rootGETs[true], rootGETs[false])
		}
	})

	t.Run("published by someone else meanwhile", func(t *testing.T) {
		const gun = "docker.io/alice/known-new-taken"
		first := newOwner(t, srv, gun)
		want, err := first.client.Init(ctx, gun, first.repoCert)
		if err != nil {
			t.Fatal(err)
		}
		late := newOwner(t, srv, gun)
		_, err = late.client.Init(ctx, gun, late.repoCert, KnownNew())
		if err == nil {
			t.Fatal("Init over a repository published meanwhile succeeded")
		}
		t.Logf("refused: %v", err)
		got, err := first.client.published(ctx, data.GUN(gun))
		if err != nil {
			t.Fatal(err)
		}
		if got.RootSHA256 != want.RootSHA256 {
			t.Errorf("the server's root changed: %s, was %s", got.RootSHA256, want.RootSHA256)
		}
	})
}

// TestReadBackPrimesTheNextPublish: the read-back after init leaves what it
// validated in the trust dir's cache, so the snapshot key's rotation right
// after downloads targets.json once (its own read-back), not twice.
func TestReadBackPrimesTheNextPublish(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NotaryServerT(t)
	const gun = "docker.io/alice/primed"
	o := newOwner(t, srv, gun)
	if _, err := o.client.Init(ctx, gun, o.repoCert); err != nil {
		t.Fatal(err)
	}
	before := serverGETs(t, srv, gun)
	if _, err := o.client.RotateSnapshotToServer(ctx, gun, JustInitialised()); err != nil {
		t.Fatal(err)
	}
	after := serverGETs(t, srv, gun)
	if n := after["targets"] - before["targets"]; n != 1 {
		t.Errorf("the rotation downloaded targets.json %d times, want 1 (its read-back)", n)
	}
	if n := after["snapshot"] - before["snapshot"]; n != 1 {
		t.Errorf("the rotation downloaded snapshot.json %d times, want 1 (its read-back)", n)
	}
}

// serverGETs counts, by role, the metadata GETs for gun in the server's log.
func serverGETs(t *testing.T, srv *testenv.NotaryServer, gun string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(srv.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		var e struct {
			Method string `json:"http.request.method"`
			URI    string `json:"http.request.uri"`
		}
		if json.Unmarshal([]byte(line), &e) != nil || e.Method != http.MethodGet {
			continue
		}
		file, ok := strings.CutPrefix(e.URI, "/v2/"+gun+"/_trust/tuf/")
		if !ok || !strings.HasSuffix(file, ".json") {
			continue
		}
		role, _, _ := strings.Cut(strings.TrimSuffix(file, ".json"), ".")
		n[role]++
	}
	return n
}

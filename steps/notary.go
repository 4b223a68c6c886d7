package steps

import (
	"context"
	"fmt"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
)

// notarySecrets are the passphrase sources every notary step reads: the
// snapshot key's, and the targets key's unless the token holds it.
func notarySecrets(cfg *config.Config) []Secret {
	n := cfg.Notary
	s := []Secret{{Field: "notary.snapshot_passphrase", Source: n.SnapshotPassphrase, Passphrase: true}}
	if n.TargetsKey == nil {
		s = append(s, Secret{Field: "notary.targets_passphrase", Source: n.TargetsPassphrase, Passphrase: true})
	}
	if n.Auth != "" {
		s = append(s, Secret{Field: "notary.auth", Source: n.Auth})
	}
	return s
}

// auth reads notary.auth once per run; nil when the server needs none.
func (st *State) auth(ctx context.Context) ([]byte, error) {
	n := st.cfg.Notary
	if n.Auth == "" || st.notaryAuth != nil {
		return st.notaryAuth, nil
	}
	src, err := secret.Parse(n.Auth)
	if err != nil {
		return nil, fmt.Errorf("notary.auth: %w", err)
	}
	if st.notaryAuth, err = src.Read(ctx, "notary.auth (base64 of user:password)", st.prompter); err != nil {
		return nil, err
	}
	return st.notaryAuth, nil
}

// rootJSON is the published root.json as a transcript artifact.
func rootJSON(gun string, raw []byte) []transcript.Subject {
	if len(raw) == 0 {
		return nil
	}
	return []transcript.Subject{transcript.NewSubject("notary/"+gun+"/root.json", "application/json", raw)}
}

// notary returns the client for the Notary steps, made on first use: the
// root key from the token, the targets and snapshot passphrases from their
// sources, the ceremony CA (made by step 1) pinned.
func (st *State) notary(ctx context.Context) (*trust.Client, error) {
	if st.trust != nil {
		return st.trust, nil
	}
	n := st.cfg.Notary
	refs := []trust.KeyRef{{Key: hsm.KeySelector{Label: st.cfg.Root.Label}, Role: trust.RootRole}}
	if n.TargetsKey != nil {
		refs = append(refs, trust.KeyRef{Key: hsm.KeySelector{Label: n.TargetsKey.Label}, Role: trust.TargetsRole})
	}
	targets, snapshot, err := st.passphrases(ctx)
	if err != nil {
		return nil, err
	}
	ks, err := trust.NewKeyStore(ctx, st.sess, nil, refs...)
	if err != nil {
		return nil, err
	}
	auth, err := st.auth(ctx)
	if err != nil {
		return nil, err
	}
	trustDir := st.cfg.Path(n.TrustDir)
	c, err := trust.New(trust.Config{
		URL:         n.URL,
		TLSCA:       st.cfg.Path(n.TLSCA),
		TrustDir:    trustDir,
		PinCA:       st.outPath(CAFile),
		Passphrases: trust.Passphrases{Targets: targets, Snapshot: snapshot},
		Token:       ks,
		Auth:        auth,
	})
	if err != nil {
		return nil, err
	}
	st.trust = c
	return c, nil
}

// passphrases reads the targets (unless the token holds the targets key) and
// snapshot passphrases once per run.
func (st *State) passphrases(ctx context.Context) (targets, snapshot []byte, err error) {
	n := st.cfg.Notary
	if st.snapshotPass == nil {
		if n.TargetsKey == nil {
			if st.targetsPass, err = st.passphrase(ctx, n.TargetsPassphrase, "passphrase for the notary targets key"); err != nil {
				return nil, nil, err
			}
		}
		if st.snapshotPass, err = st.passphrase(ctx, n.SnapshotPassphrase, "passphrase for the notary snapshot key"); err != nil {
			return nil, nil, err
		}
	}
	return st.targetsPass, st.snapshotPass, nil
}

// checkPassphrases tries the passphrases on the key files of the ceremony's
// repositories that an earlier run left in trust_dir.
func (st *State) checkPassphrases(ctx context.Context) []error {
	targets, snapshot, err := st.passphrases(ctx)
	if err != nil {
		return []error{err}
	}
	var problems []error
	dir := st.cfg.Path(st.cfg.Notary.TrustDir)
	for _, r := range st.cfg.Repositories {
		for _, k := range []struct {
			role string
			pass []byte
		}{{"targets", targets}, {"snapshot", snapshot}} {
			if k.pass == nil {
				continue
			}
			if err := trust.CheckPassphrase(dir, r.GUN, k.role, k.pass); err != nil {
				problems = append(problems, err)
			}
		}
	}
	return problems
}

func (st *State) passphrase(ctx context.Context, source, what string) ([]byte, error) {
	src, err := secret.Parse(source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return src.ReadPassphrase(ctx, what, st.prompter)
}

func short(ids []string) string {
	if len(ids) == 0 {
		return "(none)"
	}
	return shortID(ids[0])
}

// shortID shows a key ID as notary's CLI does: enough to compare by eye.
func shortID(id string) string {
	if len(id) <= 16 {
		return id
	}
	return id[:7] + "…" + id[len(id)-7:]
}

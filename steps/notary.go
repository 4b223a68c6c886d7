package steps

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
)

func targetsKeyStep(cfg *config.Config) Step {
	k := cfg.Notary.TargetsKey
	return Step{
		ID:    "targets-key",
		Title: "Create the targets key",
		Explain: "Generate the Notary targets key inside the token as well, so that signing the repositories' " +
			"targets (and adding delegations) needs the token, not a passphrase-protected file.",
		Seed:         []string{"(notary init makes a targets key file in trust_dir; here it lives in the token)"},
		Inputs:       map[string]any{"label": k.Label, "key": k.Key},
		Irreversible: true,
		replay:       true,
		check:        needSession,
		run: func(ctx context.Context, st *State) (*Result, error) {
			key, adopted, err := st.key(ctx, k.Label, k.Key)
			if err != nil {
				return nil, err
			}
			return &Result{
				Summary: fmt.Sprintf("targets key %q (id %s) in the token", key.Label, key.IDHex()),
				Facts:   map[string]any{"key": keyFacts(key, adopted)},
			}, nil
		},
	}
}

func notaryInitStep(r config.Repository) Step {
	return Step{
		ID:    "notary-init:" + r.GUN,
		Title: "Notary init " + r.GUN,
		Explain: "Create the repository on the Notary server with the repository certificate as its root " +
			"certificate; the token's root key signs root.json, new targets and snapshot keys are made in the trust directory.",
		Seed:         []string{"notary init " + r.GUN + " --publish --rootcert " + RepoBase(r.GUN) + ".pem"},
		Inputs:       map[string]any{"gun": r.GUN},
		Irreversible: true,
		check:        needDone("repo:" + r.GUN),
		run: func(ctx context.Context, st *State) (*Result, error) {
			cert := st.repoCerts[r.GUN]
			if cert == nil {
				return nil, fmt.Errorf("the repository certificate of %s has not been issued", r.GUN)
			}
			c, err := st.notary(ctx)
			if err != nil {
				return nil, err
			}
			st.progress("publishing %s to %s", r.GUN, st.cfg.Notary.URL)
			res, err := c.Init(ctx, r.GUN, cert)
			if err != nil {
				return nil, err
			}
			st.point("after-publish")
			summary := fmt.Sprintf("published root.json v%d, root key %s", res.RootVersion, short(res.RootKeyIDs))
			if res.AlreadyInitialised {
				summary = "the server already had it under this certificate: " + summary
			}
			return &Result{Summary: summary, Facts: map[string]any{"notary": res}, Subjects: rootJSON(r.GUN, res.RootJSON)}, nil
		},
	}
}

// rootJSON is the published root.json as a transcript artifact.
func rootJSON(gun string, raw []byte) []transcript.Subject {
	if len(raw) == 0 {
		return nil
	}
	return []transcript.Subject{transcript.NewSubject("notary/"+gun+"/root.json", "application/json", raw)}
}

func snapshotStep(r config.Repository) Step {
	return Step{
		ID:    "snapshot:" + r.GUN,
		Title: "Snapshot key to the server for " + r.GUN,
		Explain: "Rotate the snapshot key to a key the Notary server holds, so delegates can publish " +
			"without it; notary re-signs and publishes root.json with the token's root key at once.",
		Seed:         []string{"notary key rotate " + r.GUN + " snapshot --server-managed"},
		Inputs:       map[string]any{"gun": r.GUN},
		Irreversible: true,
		check:        needDone("notary-init:" + r.GUN),
		run: func(ctx context.Context, st *State) (*Result, error) {
			c, err := st.notary(ctx)
			if err != nil {
				return nil, err
			}
			res, err := c.RotateSnapshotToServer(ctx, r.GUN)
			if err != nil {
				return nil, err
			}
			st.point("after-publish")
			summary := fmt.Sprintf("snapshot key %s is the server's; root.json v%d", shortID(res.ServerSnapshotKeyID), res.RootVersion)
			if res.AlreadyServerManaged {
				summary = "already server-managed: " + summary
			}
			return &Result{Summary: summary, Facts: map[string]any{"notary": res}, Subjects: rootJSON(r.GUN, res.RootJSON)}, nil
		},
	}
}

func delegationStep(d config.Delegation) Step {
	paths := d.Paths.List
	shown := any(paths)
	flag := "--paths " + strings.Join(paths, ",")
	if d.Paths.All {
		paths, shown, flag = nil, "all", "--all-paths"
	}
	return Step{
		ID:           "delegation:" + d.GUN + ":" + d.Role,
		Title:        "Delegation " + d.Role + " of " + d.GUN,
		Explain:      "Add the delegate's key as " + d.Role + " so its holder can sign targets, and publish targets.",
		Seed:         []string{"notary delegation add " + d.GUN + " " + d.Role + " " + d.Cert + " " + flag + " -p"},
		Inputs:       map[string]any{"gun": d.GUN, "role": d.Role, "cert": d.Cert, "paths": shown},
		Irreversible: true,
		check:        needDone("notary-init:"+d.GUN, "snapshot:"+d.GUN),
		run: func(ctx context.Context, st *State) (*Result, error) {
			pemBytes, err := os.ReadFile(st.cfg.Path(d.Cert))
			if err != nil {
				return nil, fmt.Errorf("delegate key: %w", err)
			}
			c, err := st.notary(ctx)
			if err != nil {
				return nil, err
			}
			res, err := c.AddDelegation(ctx, d.GUN, d.Role, pemBytes, paths)
			if err != nil {
				return nil, err
			}
			st.point("after-publish")
			summary := fmt.Sprintf("%s holds key %s", d.Role, shortID(res.KeyID))
			if res.AlreadyPresent {
				summary = "already present: " + summary
			}
			return &Result{Summary: summary, Facts: map[string]any{"notary": res}}, nil
		},
	}
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
	trustDir := st.cfg.Path(n.TrustDir)
	c, err := trust.New(trust.Config{
		URL:         n.URL,
		TLSCA:       st.cfg.Path(n.TLSCA),
		TrustDir:    trustDir,
		PinCA:       st.outPath(CAFile),
		Passphrases: trust.Passphrases{Targets: targets, Snapshot: snapshot},
		Token:       ks,
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
	p, err := src.Read(ctx, what, st.prompter)
	if err != nil || !src.IsPrompt() {
		return p, err
	}
	// A typed passphrase may protect a new key file: a typo would lock it
	// for good, so it is asked twice, as the notary CLI does.
	again, err := src.Read(ctx, what+" (again)", st.prompter)
	if err != nil {
		return nil, err
	}
	defer clear(again)
	if !bytes.Equal(p, again) {
		clear(p)
		return nil, fmt.Errorf("%s: the two entries differ", what)
	}
	return p, nil
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

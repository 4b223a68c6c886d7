package steps

import (
	"context"
	"fmt"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/trust"
)

// NotaryInitID is the step that creates a repository on the Notary server.
func NotaryInitID(gun string) ID { return ID("notary-init:" + gun) }

func notaryInitStep(cfg *config.Config, r config.Repository) Step {
	return Step{
		ID:    NotaryInitID(r.GUN),
		Title: "Notary init " + r.GUN,
		Explain: "Create the repository on the Notary server with the repository certificate as its root " +
			"certificate; the token's root key signs root.json, new targets and snapshot keys are made in the trust directory.",
		Seed:         []string{"notary init " + r.GUN + " --publish --rootcert " + RepoCertFile(r.GUN)},
		Inputs:       map[string]any{"gun": r.GUN},
		Irreversible: true,
		Needs:        []ID{RepoID(r.GUN)},
		Secrets:      notarySecrets(cfg),
		Publishes:    r.GUN,
		run: func(ctx context.Context, st *State) (*Result, error) {
			cert := st.certs[RepoCertFile(r.GUN)]
			if cert == nil {
				return nil, fmt.Errorf("the repository certificate of %s has not been issued", r.GUN)
			}
			c, err := st.notary(ctx)
			if err != nil {
				return nil, err
			}
			st.progress("publishing %s to %s", r.GUN, st.cfg.Notary.URL)
			// A new ceremony's preflight found the server without this
			// repository; on the first try nothing of it can be there since.
			var opts []trust.InitOption
			if st.firstTry(NotaryInitID(r.GUN)) {
				opts = append(opts, trust.KnownNew())
			}
			res, err := c.Init(ctx, r.GUN, cert, opts...)
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

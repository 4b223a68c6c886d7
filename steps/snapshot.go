package steps

import (
	"context"
	"fmt"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/trust"
)

// SnapshotID is the step that hands a repository's snapshot key to the server.
func SnapshotID(gun string) ID { return ID("snapshot:" + gun) }

func snapshotStep(cfg *config.Config, r config.Repository) Step {
	return Step{
		ID:    SnapshotID(r.GUN),
		Title: "Snapshot key to the server for " + r.GUN,
		Explain: "Rotate the snapshot key to a key the Notary server holds, so delegates can publish " +
			"without it; notary re-signs and publishes root.json with the token's root key at once.",
		Seed:         []string{"notary key rotate " + r.GUN + " snapshot --server-managed"},
		Inputs:       map[string]any{"gun": r.GUN},
		Irreversible: true,
		Needs:        []ID{NotaryInitID(r.GUN)},
		Secrets:      notarySecrets(cfg),
		Publishes:    r.GUN,
		run: func(ctx context.Context, st *State) (*Result, error) {
			c, err := st.notary(ctx)
			if err != nil {
				return nil, err
			}
			var opts []trust.RotateOption
			if st.firstTry(SnapshotID(r.GUN)) {
				opts = append(opts, trust.JustInitialised())
			}
			res, err := c.RotateSnapshotToServer(ctx, r.GUN, opts...)
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

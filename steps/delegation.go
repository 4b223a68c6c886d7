package steps

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/trust"
)

// DelegationID is the step that adds a delegate's key to a repository.
func DelegationID(gun, role string) ID { return ID("delegation:" + gun + ":" + role) }

func delegationStep(cfg *config.Config, i int, d config.Delegation) Step {
	field := fmt.Sprintf("delegations[%d].cert", i)
	paths := d.Paths.List
	shown := any(paths)
	flag := "--paths " + strings.Join(paths, ",")
	if d.Paths.All {
		paths, shown, flag = nil, "all", "--all-paths"
	}
	return Step{
		ID:           DelegationID(d.GUN, d.Role),
		Title:        "Delegation " + d.Role + " of " + d.GUN,
		Explain:      "Add the delegate's key as " + d.Role + " so its holder can sign targets, and publish targets.",
		Seed:         []string{"notary delegation add " + d.GUN + " " + d.Role + " " + d.Cert + " " + flag + " -p"},
		Inputs:       map[string]any{"gun": d.GUN, "role": d.Role, "cert": d.Cert, "paths": shown},
		Irreversible: true,
		Skippable:    true,
		Needs:        []ID{NotaryInitID(d.GUN), SnapshotID(d.GUN)},
		Secrets:      notarySecrets(cfg),
		Reads:        []string{d.Cert},
		Publishes:    d.GUN,
		// The delegate's key must parse before the first key is made, not
		// after the repository is published.
		preflight: func(ctx context.Context, st *State) []error {
			if _, err := delegateKey(st.cfg, field, d); err != nil {
				return []error{err}
			}
			return nil
		},
		run: func(ctx context.Context, st *State) (*Result, error) {
			pemBytes, err := delegateKey(st.cfg, field, d)
			if err != nil {
				return nil, err
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

// delegateKey reads the delegate's certificate or public key and checks
// that notary can take it.
func delegateKey(cfg *config.Config, field string, d config.Delegation) ([]byte, error) {
	b, err := os.ReadFile(cfg.Path(d.Cert))
	if err == nil {
		_, err = trust.DelegatePublicKeyID(b)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, d.Cert, err)
	}
	return b, nil
}

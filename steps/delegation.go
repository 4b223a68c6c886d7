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
	// Validate has checked the roles; a plan built from an unchecked
	// config delegates to the role alone and fails in preflight.
	roles, rolesErr := d.Roles()
	if rolesErr != nil {
		roles = []string{d.Role}
	}
	inputs := map[string]any{"gun": d.GUN, "role": d.Role, "cert": d.Cert, "paths": shown}
	explain := "Add the delegate's key as " + d.Role + " so its holder can sign targets, and publish targets."
	if len(roles) > 1 || d.Docker {
		// The transcript says where the key went: docker reads tags from
		// targets/releases only.
		inputs["docker"], inputs["roles"] = d.Docker, roles
		explain = "Add the delegate's key as " + strings.Join(roles, " and ") + ", as docker trust signer add does, so that docker's client shows the tags its holder signs, and publish targets."
	}
	var seed []string
	for _, r := range roles {
		seed = append(seed, "notary delegation add "+d.GUN+" "+r+" "+d.Cert+" "+flag+" -p")
	}
	return Step{
		ID:           DelegationID(d.GUN, d.Role),
		Title:        "Delegation " + d.Role + " of " + d.GUN,
		Explain:      explain,
		Seed:         seed,
		Inputs:       inputs,
		Irreversible: true,
		Skippable:    true,
		Needs:        []ID{NotaryInitID(d.GUN), SnapshotID(d.GUN)},
		Secrets:      notarySecrets(cfg),
		Reads:        []string{d.Cert},
		Publishes:    d.GUN,
		// The delegate's key must parse before the first key is made, not
		// after the repository is published.
		preflight: func(ctx context.Context, st *State) []error {
			var errs []error
			if rolesErr != nil {
				errs = append(errs, fmt.Errorf("delegations[%d]: %w", i, rolesErr))
			}
			if _, err := delegateKey(st.cfg, field, d); err != nil {
				errs = append(errs, err)
			}
			return errs
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
			res, err := c.AddDelegation(ctx, d.GUN, roles, pemBytes, paths)
			if err != nil {
				return nil, err
			}
			st.point("after-publish")
			verb := " holds"
			if len(roles) > 1 {
				verb = " hold"
			}
			summary := fmt.Sprintf("%s%s key %s", strings.Join(roles, " and "), verb, shortID(res.KeyID))
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

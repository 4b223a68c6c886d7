package steps

import (
	"fmt"

	"github.com/ceremony-dev/ceremony/config"
)

// TargetsKeyID is the step that puts the Notary targets key in the token.
const TargetsKeyID ID = "targets-key"

func targetsKeyStep(cfg *config.Config) Step {
	k := cfg.Notary.TargetsKey
	return Step{
		ID:    TargetsKeyID,
		Title: "Create the targets key",
		Explain: "Generate the Notary targets key inside the token as well, so that signing the repositories' " +
			"targets (and adding delegations) needs the token, not a passphrase-protected file.",
		Seed:         []string{"(notary init makes a targets key file in trust_dir; here it lives in the token)"},
		Inputs:       map[string]any{"label": k.Label, "key": k.Key},
		Irreversible: true,
		Keys:         []Key{{Label: k.Label, Type: k.Key, Role: "Notary targets"}},
		summary: func(m *Made) string {
			key := m.Key(k.Label)
			return fmt.Sprintf("targets key %q (id %s) in the token", key.Label, key.IDHex())
		},
	}
}

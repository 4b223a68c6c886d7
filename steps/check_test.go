package steps

import (
	"strings"
	"testing"
)

// TestPlanCheck: the mistakes a newcomer can make in a new step are refused
// before anything runs, each named.
func TestPlanCheck(t *testing.T) {
	cfg := planConfig(t, "")
	tests := []struct {
		name  string
		edit  func(p *Plan)
		wants []string
	}{
		{"a step twice", func(p *Plan) { p.Steps = append(p.Steps, p.Steps[1]) },
			[]string{"plan: step ca: is in the plan twice", `key "ca" is made by step ca too`, "ca.pem is written by step ca too"}},
		{"needs a later step", func(p *Plan) { p.Steps[1].Needs = []ID{RootID} },
			[]string{"plan: step ca: needs step root, which does not come before it"}},
		{"certifies a key made later", func(p *Plan) {
			p.Steps = append(p.Steps, tsaStep(cfg, 100))
			p.Steps[len(p.Steps)-1].Certs[0].Key = "later"
		}, []string{`tsa: tsa.pem: key "later" is not made by this step or an earlier one`}},
		{"issuer key not the issuer's", func(p *Plan) {
			p.Steps = append(p.Steps, tsaStep(cfg, 100))
			p.Steps[len(p.Steps)-1].Certs[0].IssuerKey = cfg.Root.Label
		}, []string{`tsa.pem: issuer key "root" is not the key of its issuer ca.pem ("ca")`}},
		{"label a token refuses", func(p *Plan) {
			s := tsaStep(cfg, 100)
			s.Keys[0].Label = " " + strings.Repeat("x", 40)
			s.Certs[0].Key = s.Keys[0].Label
			p.Steps = append(p.Steps, s)
		}, []string{"surrounding spaces"}},
		{"two GUNs, one file", func(p *Plan) {
			s := p.Steps[4]
			s.ID = "repo:other"
			p.Steps = append(p.Steps, s)
		}, []string{"repos/docker.io_a_x.pem is written by step repo:docker.io/a/x too"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(cfg)
			if err := p.Check(); err != nil {
				t.Fatalf("the config's own plan: %v", err)
			}
			tc.edit(p)
			err := p.Check()
			for _, w := range tc.wants {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Check: %v\nwant %q", err, w)
				}
			}
		})
	}
}

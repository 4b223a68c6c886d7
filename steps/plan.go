// Package steps is the ceremony as a state machine: a plan of ordered steps
// built from the config, a runner that executes them one at a time, records
// each outcome in the journal (the transcript) as it finishes, reports events
// to whoever shows the run, and resumes an interrupted ceremony where it
// stopped. The UI never calls hsm, pki or trust itself: it watches events.
package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/transcript"
)

// Step is one unit of the ceremony: one seed section, one transcript entry.
type Step struct {
	ID      string
	Title   string
	Explain string   // for trainers: what happens and why
	Seed    []string // the manual commands it replaces
	Inputs  map[string]any
	// Irreversible marks steps that change a token or a server; the plan
	// shows it to the witnesses.
	Irreversible bool
	// replay: a finished step is run again on resume, making nothing, to
	// rebuild what later steps need (keys, certificates). Steps that only
	// publish have nothing to rebuild.
	replay bool

	// check is the step's precondition, tested just before it runs: what
	// earlier steps must have produced. A failed check is journaled like a
	// failed step, and nothing is attempted.
	check func(st *State) error
	run   func(ctx context.Context, st *State) (*Result, error)
}

// Result is what a finished step produced: facts for the transcript and the
// screen, and the artifacts it wrote.
type Result struct {
	Summary  string
	Facts    map[string]any
	Subjects []transcript.Subject
}

// Plan is the ordered ceremony for one config.
type Plan struct {
	Config *config.Config
	Steps  []Step
}

// StepIDs lists the step IDs in order.
func (p *Plan) StepIDs() []string {
	ids := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		ids[i] = s.ID
	}
	return ids
}

// NewPlan builds the plan a config asks for: preflight, CA, root key, one
// repository certificate per GUN and, with a notary section, per GUN notary
// init and the snapshot key's rotation to the server, then each delegation.
func NewPlan(cfg *config.Config) *Plan {
	p := &Plan{Config: cfg}
	p.Steps = append(p.Steps, preflightStep(cfg), caStep(cfg), rootStep(cfg))
	if cfg.Notary != nil && cfg.Notary.TargetsKey != nil {
		p.Steps = append(p.Steps, targetsKeyStep(cfg))
	}
	for _, r := range cfg.Repositories {
		p.Steps = append(p.Steps, repoStep(r))
	}
	if cfg.Notary == nil {
		return p
	}
	for _, r := range cfg.Repositories {
		p.Steps = append(p.Steps, notaryInitStep(r), snapshotStep(r))
	}
	for _, d := range cfg.Delegations {
		p.Steps = append(p.Steps, delegationStep(d))
	}
	return p
}

// Describe renders the plan as the proposed script a witness reads.
func (p *Plan) Describe() string {
	var b strings.Builder
	for i, s := range p.Steps {
		mark := ""
		if s.Irreversible {
			mark = ", irreversible"
		}
		fmt.Fprintf(&b, "%d. %s (%s%s)\n   %s\n", i, s.Title, s.ID, mark, s.Explain)
		for _, c := range s.Seed {
			fmt.Fprintf(&b, "   replaces: %s\n", c)
		}
	}
	return b.String()
}

// planRecord is the plan as the transcript header records it.
func (p *Plan) planRecord() []map[string]any {
	out := make([]map[string]any, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = map[string]any{"id": s.ID, "title": s.Title, "seed": s.Seed, "inputs": s.Inputs}
	}
	return out
}

// Package steps is the ceremony as a state machine: a plan of ordered steps
// built from the config, a runner that executes them one at a time, records
// each outcome in the journal (the transcript) as it finishes, reports events
// to whoever shows the run, and resumes an interrupted ceremony where it
// stopped. The UI never calls hsm, pki or trust itself: it watches events.
//
// A step declares what it needs and what it makes (keys, certificates, files,
// secrets, publications); preflight, the dry run of the certificates and
// resume are derived from those declarations, so a new step is one file.
package steps

import (
	"context"
	"fmt"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/transcript"
)

// ID names a step in the plan, the journal and the events.
type ID string

// PreflightID is the first step of every plan.
const PreflightID ID = "preflight"

// Step is one unit of the ceremony: one seed section, one transcript entry.
type Step struct {
	ID      ID
	Title   string
	Explain string   // for trainers: what happens and why
	Seed    []string // the manual commands it replaces
	Inputs  map[string]any
	// Irreversible marks steps that change a token or a server; the plan
	// shows it to the witnesses, and the runner asks before them.
	Irreversible bool
	// Skippable marks a step the ceremony can go on without, when it fails
	// and the operator chooses to (a delegation can be added later).
	Skippable bool

	// What the step makes and needs. Preflight checks them before anything
	// is made, and resume finds them again for a finished step.
	Keys      []Key    // key pairs it generates in the token
	Certs     []Cert   // certificates it issues, each written to a file
	Secrets   []Secret // secret sources it reads
	Reads     []string // input files it reads (paths as the config gives them)
	Publishes string   // the GUN it publishes to the Notary server, if any
	Needs     []ID     // steps that must have finished first

	// preflight is the step's own early check, for what its declarations
	// cannot say (a delegate's key that must parse).
	preflight func(ctx context.Context, st *State) []error
	// run does the step. Steps that only make their declared keys and
	// certificates leave it nil and give summary instead.
	run     func(ctx context.Context, st *State) (*Result, error)
	summary func(m *Made) string
}

// Result is what a finished step produced: facts for the transcript and the
// screen, and the artifacts it wrote.
type Result struct {
	Summary  string
	Facts    map[string]any
	Subjects []transcript.Subject
}

// Kind is a kind of ceremony: each is a plan over the same runner, journal
// and gates.
type Kind string

// KindRoot is the first ceremony: CA, root key, repository certificates and
// their publication. Renewing repository certificates and rotating the root
// key will be kinds of their own, built from the same step files.
const KindRoot Kind = "root"

// Plan is the ordered ceremony for one config.
type Plan struct {
	Kind   Kind
	Config *config.Config
	Steps  []Step
}

// NewPlan builds the first ceremony a config asks for.
func NewPlan(cfg *config.Config) *Plan {
	p, err := Build(KindRoot, cfg)
	if err != nil {
		panic(err) // KindRoot always builds
	}
	return p
}

// Build makes the plan of a ceremony kind. Every plan starts with preflight.
func Build(kind Kind, cfg *config.Config) (*Plan, error) {
	switch kind {
	case KindRoot:
		return &Plan{Kind: kind, Config: cfg, Steps: append([]Step{preflightStep(cfg)}, rootCeremony(cfg)...)}, nil
	}
	return nil, fmt.Errorf("unknown ceremony kind %q", kind)
}

// rootCeremony is the seed procedure: CA, transcript key, root key, one
// repository certificate per GUN and, with a notary section, per GUN notary
// init and the snapshot key's rotation to the server, then each delegation.
func rootCeremony(cfg *config.Config) []Step {
	s := []Step{caStep(cfg), transcriptKeyStep(cfg), rootStep(cfg)}
	if cfg.Notary != nil && cfg.Notary.TargetsKey != nil {
		s = append(s, targetsKeyStep(cfg))
	}
	for _, r := range cfg.Repositories {
		s = append(s, repoStep(cfg, r))
	}
	if cfg.Notary == nil {
		return s
	}
	for _, r := range cfg.Repositories {
		s = append(s, notaryInitStep(cfg, r), snapshotStep(cfg, r))
	}
	for i, d := range cfg.Delegations {
		s = append(s, delegationStep(cfg, i, d))
	}
	return s
}

// StepIDs lists the step IDs in order.
func (p *Plan) StepIDs() []ID {
	ids := make([]ID, len(p.Steps))
	for i, s := range p.Steps {
		ids[i] = s.ID
	}
	return ids
}

// step finds a step by ID.
func (p *Plan) step(id ID) *Step {
	for i := range p.Steps {
		if p.Steps[i].ID == id {
			return &p.Steps[i]
		}
	}
	return nil
}

// indexOf is the position of step id in the plan, or -1.
func (p *Plan) indexOf(id ID) int {
	for i := range p.Steps {
		if p.Steps[i].ID == id {
			return i
		}
	}
	return -1
}

// stepMaking is the step that declares the key labelled label.
func (p *Plan) stepMaking(label string) *Step {
	for i := range p.Steps {
		for _, k := range p.Steps[i].Keys {
			if k.Label == label {
				return &p.Steps[i]
			}
		}
	}
	return nil
}

// Keys lists every key the plan generates, in order.
func (p *Plan) Keys() []Key {
	var keys []Key
	for _, s := range p.Steps {
		keys = append(keys, s.Keys...)
	}
	return keys
}

// Certs lists every certificate the plan issues, in order.
func (p *Plan) Certs() []Cert {
	var certs []Cert
	for _, s := range p.Steps {
		certs = append(certs, s.Certs...)
	}
	return certs
}

// Secrets lists every secret source the plan's steps read, once each.
func (p *Plan) Secrets() []Secret {
	var out []Secret
	seen := map[string]bool{}
	for _, s := range p.Steps {
		for _, sec := range s.Secrets {
			if !seen[sec.Field] {
				seen[sec.Field] = true
				out = append(out, sec)
			}
		}
	}
	return out
}

// Published lists the GUNs the plan publishes, once each.
func (p *Plan) Published() []string {
	var guns []string
	seen := map[string]bool{}
	for _, s := range p.Steps {
		if s.Publishes != "" && !seen[s.Publishes] {
			seen[s.Publishes] = true
			guns = append(guns, s.Publishes)
		}
	}
	return guns
}

// planRecord is the plan as the transcript header records it.
func (p *Plan) planRecord() []map[string]any {
	out := make([]map[string]any, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = map[string]any{"id": s.ID, "title": s.Title, "seed": s.Seed, "inputs": s.Inputs}
	}
	return out
}

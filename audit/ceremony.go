package audit

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
)

// headerInputs is the part of the header's inputs the Ceremony shows.
type headerInputs struct {
	Tool         string `json:"tool"`
	Version      string `json:"version"`
	Kind         string `json:"kind"`
	ConfigDigest string `json:"configDigest"`
	Operator     string `json:"operator"`
	Training     bool   `json:"training"`
	Plan         []struct {
		ID    string   `json:"id"`
		Title string   `json:"title"`
		Seed  []string `json:"seed"`
	} `json:"plan"`
	Signer struct {
		KeyID string `json:"keyId"`
		Label string `json:"label"`
		CKAID string `json:"ckaId"`
		Type  string `json:"type"`
	} `json:"signer"`
	Token  Token  `json:"token"`
	Module Module `json:"module"`
	Clock  Clock  `json:"clock"`
}

// ceremonyOf is what a verified transcript says happened. Certificates
// chain to ca where ChainsToCA says so.
func ceremonyOf(rec *record, ca *x509.Certificate) Ceremony {
	v := rec.v
	var in headerInputs
	remarshal(v.Entries[0].Inputs, &in) // transcript.Verify has read the header already
	c := Ceremony{Tool: in.Tool, Version: in.Version, Kind: in.Kind, ConfigDigest: in.ConfigDigest, Operator: in.Operator,
		Training: in.Training, Started: v.Entries[0].Started, Sealed: v.Seal.Started, Token: in.Token, Module: in.Module, Clock: in.Clock,
		Signer: Signer{KeyID: in.Signer.KeyID, Label: in.Signer.Label, CKAID: in.Signer.CKAID, Type: in.Signer.Type},
		Plan:   []PlannedStep{}, Events: []Event{}, Keys: []Key{}, Certificates: []Certificate{}, Repositories: []Repository{},
		Declared: []DeclaredWitness{}}
	for _, p := range in.Plan {
		c.Plan = append(c.Plan, PlannedStep{ID: p.ID, Title: p.Title, Seed: p.Seed})
	}
	for _, d := range v.Declared {
		c.Declared = append(c.Declared, DeclaredWitness{Name: d.Name, Role: d.Role, KeyID: d.KeyID})
	}
	for i := range v.Entries {
		e := &v.Entries[i]
		c.Events = append(c.Events, eventOf(e))
		c.Keys = append(c.Keys, keysOf(e)...)
		c.addRepository(e)
	}
	for _, art := range rec.artifacts {
		if art.cert != nil && rec.latest(art.Name) == art {
			c.Certificates = append(c.Certificates, certificateOf(art, ca))
		}
	}
	if tc := rec.latest(steps.TranscriptCertFile); tc != nil && tc.cert != nil {
		c.Signer.Certificate = sha256Hex(tc.cert.Raw)
	}
	return c
}

func eventOf(e *transcript.Entry) Event {
	ev := Event{Line: e.Seq + 1, Kind: e.Kind, Started: e.Started, Finished: e.Finished, Error: e.Error, Summary: summaryOf(e), By: e.Operator}
	if e.Step != nil {
		ev.StepID, ev.Title, ev.Attempt = e.Step.ID, e.Step.Title, e.Step.Attempt
	}
	if e.Kind != transcript.KindHeader && len(e.Inputs) > 0 {
		ev.Inputs = e.Inputs
	}
	for _, s := range e.Subjects {
		ev.Files = append(ev.Files, File{Name: s.Name, SHA256: s.Digest["sha256"]})
	}
	return ev
}

// summaryOf puts an entry in a line: a step's own summary, a deviation's
// text, what an intent or a resume was about.
func summaryOf(e *transcript.Entry) string {
	var r struct {
		Summary       string `json:"summary"`
		Text          string `json:"text"`
		FinishedSteps *int   `json:"finishedSteps"`
		TornTail      *struct {
			Bytes int `json:"bytes"`
		} `json:"tornTail"`
	}
	json.Unmarshal(e.Results, &r) // a summary is a courtesy: odd results leave it empty
	var in struct {
		Generate struct{ Label, Type string } `json:"generate"`
	}
	remarshal(e.Inputs, &in)
	switch {
	case r.Summary != "":
		return r.Summary
	case r.Text != "":
		return r.Text
	case e.Kind == transcript.KindIntent && in.Generate.Label != "":
		return fmt.Sprintf("about to generate %s key %q", in.Generate.Type, in.Generate.Label)
	case e.Kind == transcript.KindResume:
		return resumeSummary(r.FinishedSteps, r.TornTail != nil)
	}
	return ""
}

func resumeSummary(finished *int, torn bool) string {
	var parts []string
	if finished != nil {
		parts = append(parts, fmt.Sprintf("continued after %d finished steps", *finished))
	}
	if torn {
		parts = append(parts, "a torn last line (an interrupted write) was cut off")
	}
	return strings.Join(parts, "; ")
}

func keysOf(e *transcript.Entry) []Key {
	if e.Kind != transcript.KindStep {
		return nil
	}
	facts, err := factsOf(e)
	if err != nil {
		return nil
	}
	keys, err := keyFacts(facts)
	if err != nil {
		return nil
	}
	var out []Key
	for _, name := range slices.Sorted(maps.Keys(keys)) {
		k := keys[name]
		out = append(out, Key{StepID: stepID(e), Label: k.Label, Type: k.Type, CKAID: k.CKAID, SPKISHA256: k.SPKISHA256,
			Attributes: k.Attributes, Adopted: k.Adopted})
	}
	return out
}

// certificateOf tells of a recorded certificate; with no CA (Read) none
// is said to chain.
func certificateOf(art *artifact, ca *x509.Certificate) Certificate {
	c := art.cert
	return Certificate{File: art.Name, Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: c.SerialNumber.Text(16),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), SHA256: sha256Hex(c.Raw), Fingerprint: steps.Fingerprint(c.Raw),
		ChainsToCA: ca != nil && !selfSigned(art.Name) && pki.VerifyCAPinning(c, ca) == nil, StepID: stepID(art.entry), Line: art.line}
}

// notaryFacts is the part of a Notary step's "notary" fact a Repository shows.
type notaryFacts struct {
	GUN         string   `json:"gun"`
	RootVersion int      `json:"rootVersion"`
	RootKeyIDs  []string `json:"rootKeyIds"`
}

// addRepository records what a Notary step published of its repository;
// a later step (the snapshot rotation re-signs root.json) updates it.
func (c *Ceremony) addRepository(e *transcript.Entry) {
	facts, err := factsOf(e)
	if err != nil || e.Kind != transcript.KindStep || facts["notary"] == nil {
		return
	}
	var n notaryFacts
	if json.Unmarshal(facts["notary"], &n) != nil || n.GUN == "" || n.RootVersion == 0 {
		return
	}
	r := Repository{GUN: n.GUN, RootVersion: n.RootVersion, RootKeyID: strings.Join(n.RootKeyIDs, ", ")}
	for i := range c.Repositories {
		if c.Repositories[i].GUN == n.GUN {
			c.Repositories[i] = r
			return
		}
	}
	c.Repositories = append(c.Repositories, r)
}

// markValid records that notary's check accepted gun's root.json.
func (c *Ceremony) markValid(gun string) {
	for i := range c.Repositories {
		if c.Repositories[i].GUN == gun {
			c.Repositories[i].RootJSONValid = true
		}
	}
}

func remarshal(v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

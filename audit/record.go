package audit

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/transcript"
)

// record is a verified transcript seen as the checks read it: the files its
// step entries inlined, parsed, with the facts recorded beside them.
type record struct {
	v         *transcript.Verified
	artifacts []*artifact // in transcript order
}

// artifact is one file a step entry inlined.
type artifact struct {
	transcript.Subject
	line  int // the entry's, counting from 1
	entry *transcript.Entry
	facts map[string]json.RawMessage // the entry's results
	cert  *x509.Certificate          // when the file is a PEM certificate
	csr   *x509.CertificateRequest   // when it is a PEM CSR
}

func newRecord(v *transcript.Verified) (*record, error) {
	rec := &record{v: v}
	for i := range v.Entries {
		e := &v.Entries[i]
		if e.Kind != transcript.KindStep {
			continue
		}
		facts, err := factsOf(e)
		if err != nil {
			return nil, err
		}
		for _, s := range e.Subjects {
			a := &artifact{Subject: s, line: e.Seq + 1, entry: e, facts: facts}
			if err := a.parse(); err != nil {
				return nil, err
			}
			rec.artifacts = append(rec.artifacts, a)
		}
	}
	return rec, nil
}

func factsOf(e *transcript.Entry) (map[string]json.RawMessage, error) {
	facts := map[string]json.RawMessage{}
	if len(e.Results) == 0 {
		return facts, nil
	}
	if err := json.Unmarshal(e.Results, &facts); err != nil {
		return nil, failAt(e.Seq+1, "step %s: results are not an object: %v", stepID(e), err)
	}
	return facts, nil
}

// parse reads a PEM certificate or CSR; other files are left as they are.
func (a *artifact) parse() error {
	b, _ := pem.Decode(a.Content)
	if b == nil {
		return nil
	}
	var err error
	switch b.Type {
	case "CERTIFICATE":
		a.cert, err = pki.ParseCertPEM(a.Content)
	case "CERTIFICATE REQUEST":
		a.csr, err = pki.ParseCSRPEM(a.Content)
	}
	if err != nil {
		return failAt(a.line, "%s does not parse: %v", a.Name, err)
	}
	return nil
}

// latest is the last artifact recorded under name, nil when there is none.
func (r *record) latest(name string) *artifact {
	var found *artifact
	for _, a := range r.artifacts {
		if a.Name == name {
			found = a
		}
	}
	return found
}

// fact decodes the entry's fact of kind ("certificate", "key") about name:
// "kind:name" when the step recorded several, "kind" when it recorded one.
func (a *artifact) fact(kind, name string, out any) (bool, error) {
	raw, ok := a.facts[kind+":"+name]
	if !ok {
		raw, ok = a.facts[kind]
	}
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return false, failAt(a.line, "step %s: fact %q: %v", stepID(a.entry), kind, err)
	}
	return true, nil
}

// keyFacts are the keys a step entry recorded, by fact name.
func keyFacts(facts map[string]json.RawMessage) (map[string]keyFact, error) {
	keys := map[string]keyFact{}
	for name, raw := range facts {
		if name != "key" && !strings.HasPrefix(name, "key:") {
			continue
		}
		var k keyFact
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("fact %q: %w", name, err)
		}
		keys[name] = k
	}
	return keys, nil
}

// keyFact is what steps record of a key pair in the token.
type keyFact struct {
	Label      string          `json:"label"`
	CKAID      string          `json:"ckaId"`
	Type       string          `json:"type"`
	SPKISHA256 string          `json:"spkiSha256"`
	Attributes map[string]bool `json:"attributes"`
	Adopted    bool            `json:"adopted"`
}

// certFact is what steps record of a certificate.
type certFact struct {
	Subject   string `json:"subject"`
	Issuer    string `json:"issuer"`
	Serial    string `json:"serial"`
	NotBefore string `json:"notBefore"`
	NotAfter  string `json:"notAfter"`
	SHA256    string `json:"sha256"`
}

func stepID(e *transcript.Entry) string {
	if e.Step == nil {
		return "(none)"
	}
	return e.Step.ID
}

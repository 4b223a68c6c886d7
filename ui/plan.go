package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/ceremony-dev/ceremony/steps"
)

// PlanFormats are the forms the plan is printed in: text for a terminal,
// md for the witnesses' printed script, json for tools.
var PlanFormats = []string{"text", "json", "md"}

// WritePlan renders the plan, the proposed script witnesses review before
// anything is touched, in one of PlanFormats.
func WritePlan(w io.Writer, p *steps.Plan, format string) error {
	switch format {
	case "text", "":
		return planText(w, p)
	case "md":
		return planMarkdown(w, p)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(planView(p))
	}
	return fmt.Errorf("unknown plan format %q: use one of %s", format, strings.Join(PlanFormats, ", "))
}

func planText(w io.Writer, p *steps.Plan) error {
	var b strings.Builder
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "%d. %s (%s%s)\n   %s\n", i, s.Title, s.ID, irreversible(s, ", irreversible"), s.Explain)
		for _, it := range stepItems(s) {
			fmt.Fprintf(&b, "   %s: %s\n", it.label, it.value)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func planMarkdown(w io.Writer, p *steps.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Ceremony plan (%s)\n\n", p.Kind)
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "## %d. %s%s\n\n`%s`: %s\n\n", i, s.Title, irreversible(s, " (irreversible)"), s.ID, s.Explain)
		for _, it := range stepItems(s) {
			v := it.value
			if it.code {
				v = "`" + v + "`"
			}
			fmt.Fprintf(&b, "- %s: %s\n", it.label, v)
		}
		b.WriteString("- [ ] done, checked by the witnesses\n\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// item is one line under a step: what it makes, writes, publishes, and the
// seed commands it replaces.
type item struct {
	label, value string
	code         bool // a command or a name, set as code in Markdown
}

func stepItems(s steps.Step) []item {
	var items []item
	for _, k := range s.Keys {
		items = append(items, item{"makes key", keyLine(k), false})
	}
	for _, c := range s.Certs {
		items = append(items, item{"writes", certLine(c), false})
	}
	if s.Publishes != "" {
		items = append(items, item{"publishes", s.Publishes, true})
	}
	for _, c := range s.Seed {
		items = append(items, item{"replaces", c, true})
	}
	return items
}

func irreversible(s steps.Step, mark string) string {
	if s.Irreversible {
		return mark
	}
	return ""
}

func keyLine(k steps.Key) string {
	return fmt.Sprintf("%s %q (%s) in the token", k.Role, k.Label, k.Type)
}

func certLine(c steps.Cert) string {
	issuer := "self-signed"
	if c.Issuer != "" {
		issuer = "issued by " + c.Issuer
	}
	line := fmt.Sprintf("%s over key %q, %s", c.File, c.Key, issuer)
	if c.CSR.File != "" {
		line = c.CSR.File + ", " + line
	}
	return line
}

// planDoc is the plan as JSON: stable field names for tools.
type planDoc struct {
	Kind  steps.Kind `json:"kind"`
	Steps []stepDoc  `json:"steps"`
}

type stepDoc struct {
	Index        int            `json:"index"`
	ID           steps.ID       `json:"id"`
	Title        string         `json:"title"`
	Explain      string         `json:"explain"`
	Irreversible bool           `json:"irreversible"`
	Inputs       map[string]any `json:"inputs,omitempty"`
	Keys         []keyDoc       `json:"keys,omitempty"`
	Files        []string       `json:"files,omitempty"`
	Publishes    string         `json:"publishes,omitempty"`
	Needs        []steps.ID     `json:"needs,omitempty"`
	Seed         []string       `json:"seed"`
}

type keyDoc struct {
	Label string `json:"label"`
	Type  string `json:"type"`
	Role  string `json:"role"`
}

func planView(p *steps.Plan) planDoc {
	doc := planDoc{Kind: p.Kind}
	for i, s := range p.Steps {
		d := stepDoc{Index: i, ID: s.ID, Title: s.Title, Explain: s.Explain, Irreversible: s.Irreversible,
			Inputs: s.Inputs, Publishes: s.Publishes, Needs: s.Needs, Seed: s.Seed}
		for _, k := range s.Keys {
			d.Keys = append(d.Keys, keyDoc{Label: k.Label, Type: string(k.Type), Role: k.Role})
		}
		for _, c := range s.Certs {
			if c.CSR.File != "" {
				d.Files = append(d.Files, c.CSR.File)
			}
			d.Files = append(d.Files, c.File)
		}
		doc.Steps = append(doc.Steps, d)
	}
	return doc
}

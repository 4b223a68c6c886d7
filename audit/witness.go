package audit

import (
	"fmt"
	"strings"
)

// witnesses lists the valid witness signatures, marking those by a declared
// key, and requires opts.RequireWitnesses distinct declared ones.
func (a *auditor) witnesses() (string, error) {
	declared := map[string]bool{}
	for _, d := range a.rec.v.Declared {
		declared[d.KeyID] = true
	}
	var signed, undeclared []string
	for _, w := range a.rec.v.Witnesses {
		a.res.Witnesses = append(a.res.Witnesses, Witness{Name: w.Name, Role: w.Role, KeyID: w.KeyID, Statement: w.Statement,
			Time: w.Time, Line: w.Line, Declared: declared[w.KeyID]})
		if declared[w.KeyID] {
			signed = append(signed, w.Name)
		} else {
			undeclared = append(undeclared, w.Name)
		}
	}
	summary := fmt.Sprintf("%d of %d declared witnesses signed%s%s", len(signed), len(declared), names(": ", signed), names("; not declared, not counted: ", undeclared))
	if need := a.opts.RequireWitnesses; len(signed) < need {
		return "", failAt(0, "%d declared witnesses must sign, %d did%s; not signed: %s%s", need, len(signed), names(": ", signed),
			a.unsigned(), names("; not declared, not counted: ", undeclared))
	}
	return summary, nil
}

// declared reports whether keyID is one the header declared.
func (a *auditor) declared(keyID string) bool {
	for _, d := range a.rec.v.Declared {
		if d.KeyID == keyID {
			return true
		}
	}
	return false
}

// unsigned names the declared witnesses who have not signed.
func (a *auditor) unsigned() string {
	signed := map[string]bool{}
	for _, w := range a.rec.v.Witnesses {
		signed[w.KeyID] = true
	}
	var out []string
	for _, d := range a.rec.v.Declared {
		if !signed[d.KeyID] {
			out = append(out, fmt.Sprintf("%s (%s)", d.Name, d.KeyID))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// names is prefix and the list joined, or nothing for an empty list.
func names(prefix string, list []string) string {
	if len(list) == 0 {
		return ""
	}
	return prefix + strings.Join(list, ", ")
}

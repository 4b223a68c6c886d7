package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ceremony-dev/ceremony/steps"
)

// lineChecks tells, for every event, what verification established of its
// line: the transcript check vouches for each line's signature and chain,
// the signer check anchors the key that signed them all in the CA, and the
// checks of what a line recorded (its certificates, root.json, files on
// disk) vouch for that line alone. Nothing is said of a transcript that
// could not be read: its Ceremony is empty.
func (a *auditor) lineChecks() {
	if a.rec == nil {
		return
	}
	passed := map[string]bool{}
	for _, c := range a.res.Checks {
		passed[c.Name] = c.OK
	}
	anchor := a.anchor(passed)
	for i := range a.res.Ceremony.Events {
		e := &a.res.Ceremony.Events[i]
		e.Verification = a.lineCheck(e.Line, passed, anchor)
	}
}

// anchor is why the lines are not anchored in the CA, "" when they are.
func (a *auditor) anchor(passed map[string]bool) string {
	switch {
	case a.res.Unanchored:
		return "no CA was given, so nothing ties the transcript key to one"
	case !passed[CheckCA]:
		return "the CA check did not pass"
	case !passed[CheckSigner]:
		return "the signer certificate check did not pass"
	}
	return ""
}

func (a *auditor) lineCheck(line int, passed map[string]bool, anchor string) LineCheck {
	if f := a.res.Failure; f != nil && f.Line == line {
		return LineCheck{Status: LineFailed, Detail: fmt.Sprintf("%s (check: %s)", f.Message, f.Check)}
	}
	const signed = "signed by the transcript key and chained to the line before"
	if anchor != "" {
		return LineCheck{Status: LineSigned, Detail: signed + "; not anchored: " + anchor}
	}
	var held, missing []string
	for _, c := range a.lineConcerns(line) {
		if passed[c] {
			held = append(held, c)
		} else {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return LineCheck{Status: LineIncomplete, Detail: fmt.Sprintf("%s, by the key the CA certified; not established: %s",
			signed, strings.Join(missing, ", "))}
	}
	detail := signed + ", by the key the CA certified"
	if len(held) > 0 {
		detail += "; " + strings.Join(held, ", ") + " hold"
	}
	return LineCheck{Status: LineVerified, Detail: detail, Checks: held}
}

// lineConcerns are the checks, after the signer's, about what line recorded.
func (a *auditor) lineConcerns(line int) []string {
	var out []string
	add := func(c string) {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	for _, art := range a.rec.artifacts {
		if art.line != line {
			continue
		}
		switch {
		case art.Name == steps.CAFile:
			add(CheckCA)
		case art.Name == steps.TranscriptCertFile:
			add(CheckSigner)
		}
		if art.cert != nil || art.csr != nil {
			add(CheckCertificates)
		}
		if _, ok := rootJSONGUN(art.Name); ok {
			add(CheckRootJSON)
		} else if a.opts.ArtifactsDir != "" && a.rec.latest(art.Name) == art {
			add(CheckArtifacts)
		}
	}
	return out
}

package ui

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ceremony-dev/ceremony/audit"
)

// PrintVerification prints what `ceremony verify` found: the ceremony as
// its transcript tells it (token, operator, steps and their outcomes, keys,
// certificate fingerprints, repositories, witnesses), every check, and the
// verdict. A transcript that failed before it could be read shows only the
// checks and the verdict.
func PrintVerification(w io.Writer, r *audit.Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Transcript %s\n", r.Transcript)
	if r.Ceremony.Training {
		fmt.Fprintf(tw, "%s\n", TrainingLine)
	}
	if c := r.Ceremony; c.Tool != "" {
		printCeremony(tw, c)
		printWitnesses(tw, c, r.Witnesses)
	}
	fmt.Fprintln(tw, "\nChecks")
	for _, c := range r.Checks {
		mark := "ok"
		if !c.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, c.Name, c.Detail)
	}
	fmt.Fprintf(tw, "\n%s\n", Verdict(r))
	if r.Ceremony.Training {
		fmt.Fprintf(tw, "%s\n", TrainingLine)
	}
	return tw.Flush()
}

// TrainingLine says a transcript is a rehearsal's, wherever a verdict is shown.
const TrainingLine = "TRAINING: a rehearsal, not a production ceremony: its certificates say O=TRAINING - NOT FOR PRODUCTION"

// Verdict is the verification's one-line outcome.
func Verdict(r *audit.Result) string {
	if r.OK {
		return "VERIFIED: every check holds, anchored in the CA certificate given"
	}
	return "NOT VERIFIED: " + FailureLine(r.Failure)
}

// FailureLine is a failure in one line: where, what is wrong, which check.
func FailureLine(f *audit.Failure) string {
	if f == nil {
		return "no check failed, yet the result is not OK"
	}
	if f.Line > 0 {
		return fmt.Sprintf("line %d: %s (check: %s)", f.Line, f.Message, f.Check)
	}
	return fmt.Sprintf("%s (check: %s)", f.Message, f.Check)
}

func printCeremony(w io.Writer, c audit.Ceremony) {
	fmt.Fprintf(w, "Ceremony %s by %s %s, config sha256:%s\n", c.Kind, c.Tool, c.Version, strings.TrimPrefix(c.ConfigDigest, "sha256:"))
	sealed := stamp(c.Sealed)
	if c.Sealed.IsZero() {
		sealed = "NOT SEALED (the ceremony did not finish; the steps below are what it recorded)"
	}
	fmt.Fprintf(w, "  started %s, sealed %s, operator %s\n", stamp(c.Started), sealed, orNone(c.Operator))
	t, m := c.Token, c.Module
	fmt.Fprintf(w, "Token %q  %s %s  serial %s  firmware %s\n", t.Label, t.Manufacturer, t.Model, t.Serial, t.Firmware)
	fmt.Fprintf(w, "Module %s (%s), sha256 %s\n", m.Path, m.Library, m.SHA256)
	fmt.Fprintf(w, "Clock %s, synchronised: %s\n", orNone(c.Clock.Source), synchronised(c.Clock.Synchronised))
	fmt.Fprintf(w, "Transcript key %q %s, certificate SHA-256 %s\n", c.Signer.Label, c.Signer.KeyID, fingerprintOf(c, c.Signer.Certificate))
	fmt.Fprintln(w, "\nSteps")
	for _, e := range c.Events {
		step := e.StepID
		if step == "" {
			step = "-"
		}
		fmt.Fprintf(w, "  line %d\t%s\t%s\n", e.Line, step, outcome(e))
	}
	fmt.Fprintln(w, "\nKeys (in the token)")
	for _, k := range c.Keys {
		fmt.Fprintf(w, "  %s\t%s\tid %s\tSPKI sha256 %s%s\n", k.Label, k.Type, k.CKAID, k.SPKISHA256, adopted(k.Adopted))
	}
	fmt.Fprintln(w, "\nCertificates (SHA-256 fingerprints)")
	for _, cert := range c.Certificates {
		fmt.Fprintf(w, "  %s\t%s\t%s\n", cert.File, cert.Subject, cert.Fingerprint)
	}
	if len(c.Repositories) > 0 {
		fmt.Fprintln(w, "\nRepositories")
	}
	for _, r := range c.Repositories {
		fmt.Fprintf(w, "  %s\troot.json v%d\troot key %s\t%s\n", r.GUN, r.RootVersion, r.RootKeyID, accepted(r.RootJSONValid))
	}
}

func printWitnesses(w io.Writer, c audit.Ceremony, signed []audit.Witness) {
	fmt.Fprintf(w, "\nWitnesses (%d declared, %d signed)\n", len(c.Declared), len(signed))
	if len(signed) == 0 {
		fmt.Fprintln(w, "  none signed")
	}
	for _, s := range signed {
		declared := "NOT DECLARED"
		if s.Declared {
			declared = "declared"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\tsigned %s (line %d)\t%q\n", s.Name, orNone(s.Role), declared, stamp(s.Time), s.Line, s.Statement)
	}
}

// outcome is an event's result in words.
func outcome(e audit.Event) string {
	text := map[string]string{"header": "transcript started", "step": "done", "failure": "FAILED", "intent": "intent",
		"resume": "resumed", "deviation": "DEVIATION", "seal": "sealed"}[e.Kind]
	if text == "" {
		text = e.Kind
	}
	if e.Attempt > 1 {
		text += fmt.Sprintf(" (attempt %d)", e.Attempt)
	}
	for _, s := range []string{e.Error, e.Summary} {
		if s != "" {
			text += ": " + s
		}
	}
	return text
}

// fingerprintOf shows a certificate's SHA-256 in groups of four, looked up
// among the ceremony's certificates.
func fingerprintOf(c audit.Ceremony, sum string) string {
	for _, cert := range c.Certificates {
		if cert.SHA256 == sum {
			return cert.Fingerprint
		}
	}
	return orNone(sum)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(unknown)"
	}
	return t.UTC().Format(time.RFC3339)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func synchronised(b *bool) string {
	if b == nil {
		return "unknown"
	}
	return fmt.Sprint(*b)
}

func adopted(b bool) string {
	if b {
		return " (found on the token, made earlier)"
	}
	return ""
}

func accepted(ok bool) string {
	if ok {
		return "notary's client check accepts it"
	}
	return "not checked"
}

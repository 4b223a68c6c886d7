package ui

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/ceremony-dev/ceremony/audit"
)

// replayDoc builds the lines of the detail pane (and of --plain): text
// wrapped to a width, styled through paint so that --plain stays plain.
type replayDoc struct {
	width int // 0: no wrapping (--plain, for screen readers)
	paint replayPaint
	lines []string
}

// replayPaint styles a span of text by its role; --plain leaves it as it is.
type replayPaint func(role replayRole, s string) string

type replayRole int

const (
	rpRoleText replayRole = iota
	rpRoleTitle
	rpRoleHeading
	rpRoleLabel
	rpRoleDim
	rpRoleMono
	rpRoleGood
	rpRoleWarn
	rpRoleBad
	rpRoleSelected
	rpRoleBanner // training and unverified banners
	rpRoleBannerBad
	rpRoleBorder
	rpRoleTitleBar
)

func rpPlainPaint(_ replayRole, s string) string { return s }

func rpToneRole(t replayTone) replayRole {
	switch t {
	case rpToneGood:
		return rpRoleGood
	case rpToneWarn:
		return rpRoleWarn
	case rpToneBad:
		return rpRoleBad
	}
	return rpRoleText
}

func rpWarnRole(warn bool) replayRole {
	if warn {
		return rpRoleWarn
	}
	return rpRoleText
}

func (d *replayDoc) blank() {
	if len(d.lines) > 0 && d.lines[len(d.lines)-1] != "" {
		d.lines = append(d.lines, "")
	}
}

// heading starts a section, after a blank line.
func (d *replayDoc) heading(s string) {
	d.blank()
	d.lines = append(d.lines, d.paint(rpRoleHeading, s))
}

// text adds s wrapped at the width, every line indented by indent and
// painted as role.
func (d *replayDoc) text(indent int, role replayRole, s string) {
	pad := strings.Repeat(" ", indent)
	for _, l := range d.wrap(s, indent) {
		d.lines = append(d.lines, pad+d.paint(role, l))
	}
}

func (d *replayDoc) wrap(s string, indent int) []string {
	if d.width == 0 {
		return strings.Split(s, "\n")
	}
	w := max(d.width-indent, 10)
	// ansi.Wrap breaks after any hyphen: a date, "SHA-256" or a flag would
	// be split across lines. A non-breaking hyphen holds them together.
	s = strings.ReplaceAll(s, "-", nbHyphen)
	return strings.Split(strings.ReplaceAll(ansi.Wrap(s, w, " "), nbHyphen, "-"), "\n")
}

const nbHyphen = "\u2011"

// kv adds a labelled value: the label in a column of labelWidth, the value
// wrapped beside it (below it when the column would leave too little room).
func (d *replayDoc) kv(indent, labelWidth int, label string, role replayRole, value string) {
	pad := strings.Repeat(" ", indent)
	if d.width != 0 && d.width-indent-labelWidth < 24 {
		d.lines = append(d.lines, pad+d.paint(rpRoleLabel, label))
		d.text(indent+2, role, value)
		return
	}
	lines := d.wrap(value, indent+labelWidth)
	for i, l := range lines {
		head := strings.Repeat(" ", labelWidth)
		if i == 0 {
			head = d.paint(rpRoleLabel, label) + strings.Repeat(" ", max(labelWidth-ansi.StringWidth(label), 1))
		}
		d.lines = append(d.lines, pad+head+d.paint(role, l))
	}
}

// fingerprint sets a digest out in groups of four hex digits, eight groups
// (or as many as fit) to a line, so that two people can read it aloud and
// compare.
func (d *replayDoc) fingerprint(indent int, digest string) {
	groups := strings.Fields(hexGroups(digest))
	per := 8
	if d.width != 0 {
		per = max(min(8, (d.width-indent+1)/5), 1)
	}
	pad := strings.Repeat(" ", indent)
	for len(groups) > 0 {
		n := min(per, len(groups))
		d.lines = append(d.lines, pad+d.paint(rpRoleMono, strings.Join(groups[:n], " ")))
		groups = groups[n:]
	}
}

// replayDetail is the right pane for one item: what the transcript says of
// it, and what verification established.
func replayDetail(r *audit.Result, items []replayItem, i, width int, paint replayPaint) []string {
	d := &replayDoc{width: width, paint: paint}
	it := items[i]
	d.text(0, rpRoleTitle, it.title)
	switch it.kind {
	case rpItemUnread:
		rpUnreadDetail(d, r)
	case rpItemHeader:
		rpHeaderDetail(d, r, it)
	case rpItemStep:
		rpStepDetail(d, r, it, len(r.Ceremony.Plan))
	case rpItemEvent:
		rpEventDetail(d, it)
	case rpItemSeal:
		rpSealDetail(d, r, it)
	}
	return d.lines
}

func rpUnreadDetail(d *replayDoc, r *audit.Result) {
	d.text(0, rpRoleBad, "✗ "+FailureLine(reportFailure(r)))
	d.text(0, rpRoleText, "Nothing of the ceremony can be told from a transcript that does not read: "+
		"every line must be signed, chained and sealed.")
	rpChecksSection(d, r)
}

func rpHeaderDetail(d *replayDoc, r *audit.Result, it replayItem) {
	c := r.Ceremony
	for _, e := range it.events {
		d.text(0, rpRoleDim, fmt.Sprintf("line %d · %s", e.Line, utcStamp(e.Started)))
		rpLineVerification(d, 0, e)
	}
	d.heading("The ceremony")
	const lw = 12
	d.kv(2, lw, "Kind", rpRoleText, c.Kind)
	if c.Training {
		d.kv(2, lw, "Training", rpRoleBad, "⚠ YES: a rehearsal, not for production")
	} else {
		d.kv(2, lw, "Training", rpRoleText, "no")
	}
	d.kv(2, lw, "Tool", rpRoleText, strings.TrimSpace(c.Tool+" "+c.Version))
	d.kv(2, lw, "Operator", rpRoleText, orElse(c.Operator, "not recorded"))
	d.kv(2, lw, "Started", rpRoleText, utcStamp(c.Started))
	if c.Sealed.IsZero() {
		d.kv(2, lw, "Sealed", rpRoleBad, "⚠ NOT SEALED: the ceremony did not finish")
	} else {
		d.kv(2, lw, "Sealed", rpRoleText, utcStamp(c.Sealed))
	}
	d.kv(2, lw, "Steps", rpRoleText, fmt.Sprintf("%d planned", len(c.Plan)))
	excs := exceptionReport(c)
	d.kv(2, lw, "Exceptions", rpWarnRole(len(excs) > 0), strings.TrimPrefix(exceptionTally(excs), "⚠ "))
	d.kv(2, lw, "Witnesses", rpRoleText, declaredNames(c.Declared))
	d.kv(2, lw, "Config", rpRoleText, "SHA-256")
	d.fingerprint(2+lw, c.ConfigDigest)

	d.heading("Where")
	t, m := c.Token, c.Module
	d.kv(2, lw, "Token", rpRoleText, fmt.Sprintf("%q, %s %s", t.Label, t.Manufacturer, t.Model))
	d.kv(2, lw, "Serial", rpRoleMono, orElse(t.Serial, "not recorded"))
	d.kv(2, lw, "Firmware", rpRoleText, orElse(t.Firmware, "not recorded"))
	d.kv(2, lw, "Flags", rpRoleText, orElse(strings.Join(t.Flags, ", "), "none recorded"))
	d.kv(2, lw, "Module", rpRoleMono, m.Path)
	d.kv(2, lw, "Library", rpRoleText, orElse(m.Library, "not recorded"))
	d.kv(2, lw, "Module", rpRoleText, "SHA-256")
	d.fingerprint(2+lw, m.SHA256)
	clock := clockFact(c.Clock)
	d.kv(2, lw, "Clock", rpWarnRole(clock.Warn), clock.Value)

	d.heading("The transcript key, which signed every line")
	d.kv(2, lw, "Key", rpRoleText, fmt.Sprintf("%q (%s), CKA_ID %s", c.Signer.Label, c.Signer.Type, c.Signer.CKAID))
	d.kv(2, lw, "Key ID", rpRoleText, "SHA-256")
	d.fingerprint(2+lw, c.Signer.KeyID)
	d.kv(2, lw, "Certificate", rpRoleText, "SHA-256")
	d.fingerprint(2+lw, c.Signer.Certificate)
}

func rpStepDetail(d *replayDoc, r *audit.Result, it replayItem, planned int) {
	c := r.Ceremony
	where := "not in the plan"
	if it.n >= 0 {
		where = fmt.Sprintf("step %d of %d", it.n, planned-1)
	}
	outcome, _ := stepOutcome(it.hist)
	st := rpOutcome(it.hist, false) // the deviation has a line of its own
	d.text(0, rpRoleDim, where+" · "+it.id)
	d.text(0, rpToneRole(st.tone), st.glyph+" "+strings.TrimPrefix(outcome, "⚠ "))
	if slices.ContainsFunc(it.events, func(e audit.Event) bool { return e.Kind == "deviation" }) {
		d.text(0, rpRoleWarn, "! a deviation was recorded during the step")
	}
	if rpUntrusted(it.events) {
		d.text(0, rpRoleBad, "✗ UNTRUSTED: verification failed on one of its lines")
	}
	if h := it.hist.done; h != nil && h.Summary != "" {
		d.blank()
		d.text(0, rpRoleText, h.Summary)
	}
	run := runNumbers(c.Events)
	d.heading(fmt.Sprintf("Lines (%d; times UTC)", len(it.events)))
	for _, e := range it.events {
		rpEventLines(d, e, rpRunOf(run, e), run[len(run)-1] > 1)
	}
	if len(it.events) == 0 {
		d.text(2, rpRoleWarn, "none: the transcript records nothing of this step")
	}
	if in := rpStepInputs(it.events); len(in) > 0 {
		d.heading("Inputs")
		lw := 0
		for k := range in {
			lw = max(lw, ansi.StringWidth(k)+2)
		}
		for _, k := range slices.Sorted(maps.Keys(in)) {
			d.kv(2, min(lw, 16), k, rpRoleText, rpInputValue(in[k]))
		}
	}
	rpKeysSection(d, c, it.id)
	rpCertsSection(d, c, it)
	rpFilesSection(d, it.events)
	if len(it.seed) > 0 {
		d.heading("The seed commands it replaces")
		for _, s := range it.seed {
			d.text(2, rpRoleDim, "$ "+s)
		}
	}
}

// rpEventLines tells one line of a step: what it was, when, whether it
// verified, and its summary or error.
func rpEventLines(d *replayDoc, e audit.Event, run int, runs bool) {
	what := map[string]string{"step": "done", "failure": "FAILED", "intent": "intent", "deviation": "DEVIATION"}[e.Kind]
	if what == "" {
		what = e.Kind
	}
	if e.Attempt > 1 || e.Kind == "failure" {
		what += fmt.Sprintf(", attempt %d", max(e.Attempt, 1))
	}
	if runs {
		what += fmt.Sprintf(", run %d", run)
	}
	role := rpRoleLabel
	switch e.Kind {
	case "failure", "deviation":
		role = rpRoleBad
	}
	d.text(2, role, fmt.Sprintf("line %d · %s · %s", e.Line, what, rpClockSpan(e.Started, e.Finished)))
	rpLineVerification(d, 4, e)
	switch {
	case e.Error != "":
		d.text(4, rpRoleBad, e.Error)
	case e.Kind == "deviation":
		d.text(4, rpRoleWarn, fmt.Sprintf("%q (%s)", e.Summary, rpReporter(e.By)))
	case e.Kind != "step" && e.Summary != "":
		d.text(4, rpRoleText, e.Summary)
	}
}

func rpReporter(by string) string {
	if by == "" {
		return "reported by the operator"
	}
	return "reported by " + by
}

// rpClockSpan is a line's time of day in UTC, with its end when it differs.
func rpClockSpan(start, end time.Time) string {
	switch {
	case start.IsZero() && end.IsZero():
		return "no time recorded"
	case start.IsZero():
		return end.UTC().Format(time.TimeOnly)
	case end.IsZero() || end.UTC().Format(time.TimeOnly) == start.UTC().Format(time.TimeOnly):
		return start.UTC().Format(time.TimeOnly)
	}
	return start.UTC().Format(time.TimeOnly) + "–" + end.UTC().Format(time.TimeOnly)
}

// rpLineVerification is what verification established of a line, in a
// word and a glyph, with why when it is not all.
func rpLineVerification(d *replayDoc, indent int, e audit.Event) {
	v := e.Verification
	switch v.Status {
	case audit.LineVerified:
		s := "✓ verified"
		if len(v.Checks) > 0 {
			s += " (" + strings.Join(v.Checks, ", ") + ")"
		}
		d.text(indent, rpRoleGood, s)
	case audit.LineFailed:
		d.text(indent, rpRoleBad, "✗ VERIFICATION FAILED: "+v.Detail)
	case audit.LineSigned:
		why := v.Detail
		if _, after, ok := strings.Cut(why, "not anchored: "); ok {
			why = after
		}
		if strings.HasPrefix(why, "no CA was given") {
			why = "no --ca given" // the banner says the rest
		}
		d.text(indent, rpRoleWarn, "? signed, not anchored: "+why)
	case audit.LineIncomplete:
		d.text(indent, rpRoleWarn, "~ partly verified: "+v.Detail)
	default:
		d.text(indent, rpRoleWarn, "? not verified")
	}
}

// rpStepInputs are the inputs of a step's last line that recorded any.
func rpStepInputs(events []audit.Event) map[string]any {
	for i := len(events) - 1; i >= 0; i-- {
		if len(events[i].Inputs) > 0 && events[i].Kind != "intent" {
			return events[i].Inputs
		}
	}
	return nil
}

// rpInputValue is a recorded input in one line of text.
func rpInputValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = rpInputValue(p)
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, k+": "+rpInputValue(x[k]))
		}
		return "{" + strings.Join(parts, "; ") + "}"
	case nil:
		return "(none)"
	}
	return fmt.Sprint(v)
}

func rpKeysSection(d *replayDoc, c audit.Ceremony, stepID string) {
	var keys []audit.Key
	for _, k := range c.Keys {
		if k.StepID == stepID {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	d.heading("Keys made in the token")
	for _, k := range keys {
		attrs, warn := keyAttributes(k.Attributes)
		d.text(2, rpRoleLabel, fmt.Sprintf("%q %s, CKA_ID %s", k.Label, k.Type, k.CKAID))
		d.text(4, rpWarnRole(warn), attrs)
		if f, ok := adoptedFact(k); ok {
			d.text(4, rpWarnRole(f.Warn), strings.ToLower(f.Label[:1])+f.Label[1:]+": "+f.Value)
		}
		d.text(4, rpRoleText, "public key SHA-256")
		d.fingerprint(4, k.SPKISHA256)
	}
}

func rpCertsSection(d *replayDoc, c audit.Ceremony, it replayItem) {
	var certs []audit.Certificate
	for _, cert := range c.Certificates {
		if cert.StepID == it.id {
			certs = append(certs, cert)
		}
	}
	if len(certs) == 0 {
		return
	}
	d.heading("Certificates")
	for _, cert := range certs {
		chain, warn := chainWords(cert)
		d.text(2, rpRoleLabel, cert.File)
		d.kv(4, 9, "subject", rpRoleText, cert.Subject)
		d.kv(4, 9, "issuer", rpRoleText, cert.Issuer)
		d.kv(4, 9, "valid", rpRoleText, cert.NotBefore.UTC().Format(time.DateOnly)+" to "+cert.NotAfter.UTC().Format(time.DateOnly))
		d.kv(4, 9, "serial", rpRoleMono, cert.Serial)
		d.kv(4, 9, "chains", rpWarnRole(warn), chain)
		d.text(4, rpRoleText, "SHA-256 fingerprint")
		d.fingerprint(4, cert.SHA256)
	}
}

func rpFilesSection(d *replayDoc, events []audit.Event) {
	var files []audit.File
	for _, e := range events {
		files = append(files, e.Files...)
	}
	if len(files) == 0 {
		return
	}
	d.heading("Files recorded (SHA-256)")
	for _, f := range files {
		d.text(2, rpRoleLabel, f.Name)
		d.fingerprint(4, f.SHA256)
	}
}

func rpEventDetail(d *replayDoc, it replayItem) {
	for _, e := range it.events {
		d.text(0, rpRoleDim, fmt.Sprintf("line %d · %s", e.Line, utcStamp(firstSet(e.Finished, e.Started))))
		rpLineVerification(d, 0, e)
		d.blank()
		switch e.Kind {
		case "resume":
			d.text(0, rpRoleWarn, "The ceremony stopped and was continued from its journal.")
			if e.Summary != "" {
				d.text(0, rpRoleText, e.Summary)
			}
		case "deviation":
			d.text(0, rpRoleWarn, "An exception report, in the reporter's own words ("+rpReporter(e.By)+"):")
			d.text(2, rpRoleText, fmt.Sprintf("%q", e.Summary))
		default:
			d.text(0, rpRoleText, orElse(e.Summary, e.Error))
		}
	}
}

func rpSealDetail(d *replayDoc, r *audit.Result, it replayItem) {
	c := r.Ceremony
	if len(it.events) == 0 {
		d.text(0, rpRoleBad, "⚠ NOT SEALED: the ceremony did not finish")
	}
	for _, e := range it.events {
		d.text(0, rpRoleDim, fmt.Sprintf("line %d · %s", e.Line, utcStamp(e.Started)))
		rpLineVerification(d, 0, e)
	}
	d.heading(fmt.Sprintf("Witnesses (%d declared, %d signed)", len(c.Declared), len(r.Witnesses)))
	for _, w := range declaredRows(c.Declared, r.Witnesses) {
		glyph := "✓"
		if w.Warn {
			glyph = "✗"
		}
		d.text(2, rpWarnRole(w.Warn), fmt.Sprintf("%s %s: %s", glyph, nameWithRole(w.Name, w.Role), strings.TrimPrefix(w.Signed, "⚠ ")))
	}
	for _, w := range r.Witnesses {
		declared := "declared"
		if !w.Declared {
			declared = "⚠ NOT DECLARED: listed, not counted"
		}
		d.text(2, rpRoleLabel, fmt.Sprintf("%s, line %d, %s, %s", nameWithRole(w.Name, w.Role), w.Line, utcStamp(w.Time), declared))
		d.text(4, rpRoleText, fmt.Sprintf("%q", w.Statement))
	}
	if len(c.Declared) == 0 && len(r.Witnesses) == 0 {
		d.text(2, rpRoleText, "none declared, none signed")
	}
	rpChecksSection(d, r)
}

// rpChecksSection lists every check that ran and the verdict.
func rpChecksSection(d *replayDoc, r *audit.Result) {
	d.heading("Verification")
	for _, c := range r.Checks {
		mark, role := "✓ ok", rpRoleGood
		if !c.OK {
			mark, role = "✗ FAILED", rpRoleBad
		}
		d.text(2, role, mark+" "+c.Name)
		if c.Detail != "" {
			d.text(4, rpRoleText, c.Detail)
		}
	}
	d.blank()
	v := replayVerdict(r, "")
	d.text(0, v.role, v.text)
}

// replayBanner is a line across the top of the replay.
type replayBanner struct {
	role replayRole
	text string
}

// replayVerdict says how far the replay can be trusted: verified against
// the CA, unverified (no CA given), or not verified and why.
func replayVerdict(r *audit.Result, caPath string) replayBanner {
	against := ""
	if caPath != "" {
		against = " against " + filepath.Base(caPath)
	}
	switch {
	case r.Unanchored && r.Failure == nil:
		return replayBanner{rpRoleBanner, "⚠ UNVERIFIED (no --ca): signed by a key nothing anchors; replay --ca ca.pem"}
	case r.OK:
		return replayBanner{rpRoleGood, "✓ VERIFIED" + against + ": every check holds, anchored in the CA certificate"}
	}
	return replayBanner{rpRoleBannerBad, "✗ NOT VERIFIED" + against + ": " + FailureLine(reportFailure(r))}
}

// replayBanners are the lines above the panes: the verdict, and the
// training mark when the header has it.
func replayBanners(r *audit.Result, caPath string) []replayBanner {
	out := []replayBanner{replayVerdict(r, caPath)}
	if r.Ceremony.Training {
		out = append(out, replayBanner{rpRoleBanner, "⚠ TRAINING — NOT FOR PRODUCTION: a rehearsal; trust nothing it made"})
	}
	return out
}

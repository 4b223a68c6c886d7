package ui

import (
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/steps"
)

// ReportFormats are the forms of `ceremony report`: md to review in an
// editor or a repository, html to print for the audit binder.
var ReportFormats = []string{"md", "html"}

// WriteReport renders a verified transcript as the ceremony's record: what
// was planned against what happened, exceptions first and never by colour
// alone, fingerprints to read aloud, and the verification result. It is
// written for a failed verification too, which it puts above everything.
func WriteReport(w io.Writer, r *audit.Result, format string) error {
	v := newReport(r)
	switch format {
	case "md", "":
		return reportMarkdown(w, v)
	case "html":
		return reportHTML(w, v)
	}
	return fmt.Errorf("unknown report format %q: use one of %s", format, strings.Join(ReportFormats, ", "))
}

// reportView is the Result as a reader meets it, in words, shared by both
// formats so that the Markdown and the printed copy say the same things.
type reportView struct {
	Transcript, Kind string
	// Training: the header marks a rehearsal; the report says so first.
	Training bool
	// Unread: verification stopped before the transcript could be read, so
	// nothing but the checks can be told.
	Unread      bool
	Verdict     reportVerdict
	Exceptions  []exceptionRow
	Tally       string // the exceptions counted by kind, or that there were none
	Header      []factBlock
	Steps       []stepRow
	Keys, Certs []factBlock
	Repos       []factBlock
	Declared    []declaredRow
	Signed      []signedRow
	Checks      []checkRow
}

type reportVerdict struct {
	OK       bool
	Headline string
	First    string // the first failure, in one line
	Caveat   string // what a failure means for the rest of the report
}

// factBlock is a titled list of facts: a header section, a key, a certificate.
type factBlock struct {
	Title string
	Warn  bool
	Half  bool // short enough to print beside another
	Facts []reportFact
}

type reportFact struct {
	Label, Value string
	Mono         bool
	Pairs        []hexPair // a fingerprint's groups and their PGP words, to read aloud
	Warn         bool      // an exception a reader must not miss
}

// hexPair is a group of four hex digits and its two PGP words: the printed
// report sets one above the other, so that a reader can switch between them.
type hexPair struct{ Hex, Words string }

type stepRow struct {
	N                 int
	ID, Title         string
	Outcome           string
	Warn              bool
	Attempts          int
	Started, Finished string
	Notes             []string
}

type exceptionRow struct {
	Kind, Step, Text string
	Line             int // 0 when it is about the transcript as a whole
	Time             string
}

type declaredRow struct {
	Name, Role, KeyID, Signed string
	Warn                      bool
}

type signedRow struct {
	Name, Role, KeyID, Time, Statement string
	Line                               int
	Declared                           bool
}

type checkRow struct {
	N            int
	Name, Detail string
	OK, First    bool
}

func newReport(r *audit.Result) reportView {
	c := r.Ceremony
	if c.Tool == "" {
		v := newVerdict(r)
		v.Caveat = "The transcript could not be read far enough to tell what the ceremony did: sections 1 to 7 are left out."
		return reportView{Transcript: r.Transcript, Unread: true, Verdict: v, Checks: checkRows(r)}
	}
	excs := exceptionReport(c)
	return reportView{
		Transcript: r.Transcript, Kind: c.Kind, Training: c.Training,
		Verdict:    newVerdict(r),
		Exceptions: excs,
		Tally:      exceptionTally(excs),
		Header:     headerBlocks(c),
		Steps:      stepRows(c),
		Keys:       keyBlocks(c.Keys),
		Certs:      certBlocks(c.Certificates),
		Repos:      repoBlocks(c.Repositories),
		Declared:   declaredRows(c.Declared, r.Witnesses),
		Signed:     signedRows(r.Witnesses),
		Checks:     checkRows(r),
	}
}

func newVerdict(r *audit.Result) reportVerdict {
	if r.OK {
		return reportVerdict{OK: true, Headline: fmt.Sprintf("Verification passed: all %d checks hold.", len(r.Checks))}
	}
	// FailureLine is `ceremony verify`'s wording: the report and the
	// terminal name a failure alike.
	return reportVerdict{Headline: "VERIFICATION FAILED: do not rely on this record.", First: FailureLine(reportFailure(r)),
		Caveat: "Everything below is what the transcript claims; with verification failed, none of it is established."}
}

// reportFailure is the Result's own, or the first failed check when a
// Result carries none: the reader is always told what failed.
func reportFailure(r *audit.Result) *audit.Failure {
	if r.Failure != nil {
		return r.Failure
	}
	for _, c := range r.Checks {
		if !c.OK {
			return &audit.Failure{Check: c.Name, Message: c.Detail}
		}
	}
	return nil
}

func headerBlocks(c audit.Ceremony) []factBlock {
	return []factBlock{
		{Title: "The ceremony", Facts: []reportFact{
			{Label: "Kind", Value: c.Kind},
			trainingFact(c.Training),
			{Label: "Tool", Value: strings.TrimSpace(c.Tool + " " + c.Version)},
			digestFact("Config SHA-256", c.ConfigDigest),
		}},
		{Title: "When (UTC)", Half: true, Facts: []reportFact{
			{Label: "Started", Value: utcStamp(c.Started)},
			sealFact(c.Sealed),
		}},
		{Title: "Who", Half: true, Facts: []reportFact{
			{Label: "Operator", Value: orElse(c.Operator, "not recorded")},
			{Label: "Declared witnesses", Value: declaredNames(c.Declared)},
		}},
		{Title: "Where", Facts: []reportFact{
			{Label: "Token", Value: fmt.Sprintf("%q, %s %s", c.Token.Label, c.Token.Manufacturer, c.Token.Model)},
			{Label: "Token serial", Value: c.Token.Serial, Mono: true},
			{Label: "Token firmware", Value: c.Token.Firmware},
			{Label: "Token flags", Value: strings.Join(c.Token.Flags, ", ")},
			{Label: "PKCS#11 module", Value: c.Module.Path, Mono: true},
			digestFact("Module SHA-256", c.Module.SHA256),
			{Label: "Module library", Value: c.Module.Library},
			clockFact(c.Clock),
		}},
		{Title: "The transcript key, which signed every entry", Facts: []reportFact{
			{Label: "Key", Value: fmt.Sprintf("%q (%s), CKA_ID %s", c.Signer.Label, c.Signer.Type, c.Signer.CKAID)},
			digestFact("Key ID", c.Signer.KeyID),
			digestFact("Certificate SHA-256", c.Signer.Certificate),
		}},
	}
}

func trainingFact(training bool) reportFact {
	if training {
		return reportFact{Label: "Training", Value: "⚠ YES: a rehearsal, not for production", Warn: true}
	}
	return reportFact{Label: "Training", Value: "no: a production ceremony"}
}

func sealFact(t time.Time) reportFact {
	if t.IsZero() {
		return reportFact{Label: "Sealed", Value: "⚠ NOT SEALED: the ceremony did not finish", Warn: true}
	}
	return reportFact{Label: "Sealed", Value: utcStamp(t)}
}

func clockFact(c audit.Clock) reportFact {
	f := reportFact{Label: "Clock", Value: orElse(c.Source, "source not recorded")}
	switch {
	case c.Synchronised == nil:
		f.Value += ", the host could not tell whether it was synchronised"
	case *c.Synchronised:
		f.Value += ", synchronised"
	default:
		f.Value += ", ⚠ NOT synchronised: the times may be off"
		f.Warn = true
	}
	return f
}

func declaredNames(ws []audit.DeclaredWitness) string {
	if len(ws) == 0 {
		return "none declared"
	}
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = nameWithRole(w.Name, w.Role)
	}
	return strings.Join(names, "; ")
}

func nameWithRole(name, role string) string {
	if role == "" {
		return name
	}
	return name + " (" + role + ")"
}

// digestFact shows a digest as a fingerprint: groups of four hex digits,
// and the PGP words a witness reads aloud.
func digestFact(label, digest string) reportFact {
	groups, pairs := hexFingerprint(digest)
	return reportFact{Label: label, Value: orElse(groups, "not recorded"), Mono: groups != "", Pairs: pairs}
}

// hexFingerprint groups a hex digest (an optional "sha256:" prefix dropped) in
// fours, upper case as openssl prints it, each group with its two PGP
// words. What is not hex is shown as it is, without words.
func hexFingerprint(digest string) (string, []hexPair) {
	h := strings.TrimPrefix(digest, "sha256:")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) == 0 {
		return digest, nil
	}
	words, groups := PGPWords(b), strings.Fields(groupHex(h))
	pairs := make([]hexPair, len(groups))
	for i, g := range groups {
		pairs[i] = hexPair{g, strings.Join(words[2*i:min(2*i+2, len(words))], " ")}
	}
	return strings.Join(groups, " "), pairs
}

// hexGroups is a digest's fingerprint without its words.
func hexGroups(digest string) string {
	g, _ := hexFingerprint(digest)
	return g
}

// groupHex splits a hex string into groups of four digits, like
// steps.Fingerprint, so that both read the same on screen and on paper.
func groupHex(h string) string {
	h = strings.ToUpper(h)
	var groups []string
	for len(h) > 4 {
		groups = append(groups, h[:4])
		h = h[4:]
	}
	return strings.Join(append(groups, h), " ")
}

// spoken is a fingerprint's PGP words, a pair for each group of digits.
func spoken(pairs []hexPair) string {
	words := make([]string, len(pairs))
	for i, p := range pairs {
		words[i] = p.Words
	}
	return strings.Join(words, " · ")
}

// utcStamp is a full UTC time; dayClock is the time of day alone when the day is
// the ceremony's, so the plan's table stays narrow enough to print.
func utcStamp(t time.Time) string {
	if t.IsZero() {
		return "not recorded"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func dayClock(t, day time.Time) string {
	switch {
	case t.IsZero():
		return ""
	case t.UTC().Format(time.DateOnly) == day.UTC().Format(time.DateOnly):
		return t.UTC().Format(time.TimeOnly)
	}
	return t.UTC().Format(time.DateTime)
}

func orElse(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// runNumbers numbers each event with the run it belongs to: 1 until the first
// resume, then one more after each.
func runNumbers(events []audit.Event) []int {
	run, out := 1, make([]int, len(events))
	for i, e := range events {
		if e.Kind == "resume" {
			run++
		}
		out[i] = run
	}
	return out
}

// stepHistory is one step's events, gathered from the whole transcript.
type stepHistory struct {
	attempts    int
	started     time.Time
	done        *audit.Event // the last entry that finished it
	doneRuns    []int        // preflight runs again in every run; other steps once
	failures    []audit.Event
	interrupted []int // runs in which an intent had no entry after it
}

func historyOf(events []audit.Event, run []int, id string) stepHistory {
	var h stepHistory
	pending := 0 // the run of an intent not yet followed by its step's entry
	for i, e := range events {
		if e.StepID != id {
			continue
		}
		if pending != 0 && run[i] != pending {
			h.interrupted = append(h.interrupted, pending)
		}
		pending = 0
		switch e.Kind {
		case "intent":
			pending = run[i]
		case "failure":
			h.failures = append(h.failures, e)
		case "step":
			h.done, h.doneRuns = &events[i], append(h.doneRuns, run[i])
		}
		if e.Kind != "intent" {
			h.attempts = max(h.attempts, e.Attempt, 1)
			if h.started.IsZero() {
				h.started = e.Started
			}
		}
	}
	if pending != 0 {
		h.interrupted = append(h.interrupted, pending)
	}
	return h
}

func stepRows(c audit.Ceremony) []stepRow {
	run := runNumbers(c.Events)
	last := 1
	if len(run) > 0 {
		last = run[len(run)-1]
	}
	var rows []stepRow
	for i, p := range c.Plan {
		rows = append(rows, newStepRow(i, p.ID, p.Title, historyOf(c.Events, run, p.ID), last, c.Started))
	}
	for _, e := range unplanned(c) {
		row := newStepRow(len(rows), e.StepID, e.Title, historyOf(c.Events, run, e.StepID), last, c.Started)
		row.Outcome, row.Warn = "⚠ not in the plan; "+row.Outcome, true
		rows = append(rows, row)
	}
	return rows
}

// unplanned are the first events of steps the plan does not have.
func unplanned(c audit.Ceremony) []audit.Event {
	seen := map[string]bool{"": true}
	for _, p := range c.Plan {
		seen[p.ID] = true
	}
	var out []audit.Event
	for _, e := range c.Events {
		if !seen[e.StepID] {
			seen[e.StepID] = true
			out = append(out, e)
		}
	}
	return out
}

func newStepRow(i int, id, title string, h stepHistory, lastRun int, day time.Time) stepRow {
	row := stepRow{N: i, ID: id, Title: title, Attempts: h.attempts, Started: dayClock(h.started, day)}
	for _, f := range h.failures {
		row.Notes = append(row.Notes, fmt.Sprintf("attempt %d failed (line %d): %s", max(f.Attempt, 1), f.Line, f.Error))
	}
	for _, r := range h.interrupted {
		row.Notes = append(row.Notes, fmt.Sprintf("interrupted in run %d", r))
	}
	row.Outcome, row.Warn = stepOutcome(h)
	if h.done == nil {
		return row
	}
	row.Finished = dayClock(h.done.Finished, day)
	if len(h.doneRuns) > 1 {
		row.Notes = append(row.Notes, "again in "+runList(h.doneRuns[1:]))
	}
	if skipped := skippedRuns(h.doneRuns, lastRun); len(skipped) > 0 {
		row.Notes = append(row.Notes, "skipped as already done when the ceremony resumed ("+runList(skipped)+")")
	}
	return row
}

// skippedRuns are the runs after a step was first done that did not run it.
func skippedRuns(doneRuns []int, lastRun int) []int {
	var out []int
	for r := doneRuns[0] + 1; r <= lastRun; r++ {
		if !slices.Contains(doneRuns, r) {
			out = append(out, r)
		}
	}
	return out
}

func stepOutcome(h stepHistory) (string, bool) {
	switch {
	case h.done != nil && len(h.failures) > 0:
		return fmt.Sprintf("⚠ failed, then retried: done on attempt %d", h.attempts), true
	case h.done != nil && len(h.interrupted) > 0:
		return "⚠ interrupted, then done after the resume", true
	case h.done != nil:
		return "done", false
	case len(h.failures) > 0:
		return fmt.Sprintf("⚠ FAILED, not done (%d attempt%s)", h.attempts, pluralS(h.attempts)), true
	case len(h.interrupted) > 0:
		return "⚠ interrupted, not done", true
	}
	return "⚠ not reached", true
}

func runList(runs []int) string {
	words := make([]string, len(runs))
	for i, r := range runs {
		words[i] = fmt.Sprint(r)
	}
	if len(runs) == 1 {
		return "run " + words[0]
	}
	return "runs " + strings.Join(words, ", ")
}

// exceptionReport is the Internal Witness's exception report: everything that
// left the script, in transcript order.
func exceptionReport(c audit.Ceremony) []exceptionRow {
	run := runNumbers(c.Events)
	var out []exceptionRow
	for i := range c.Events {
		if x, ok := eventException(c, run, i); ok {
			out = append(out, x)
		}
	}
	if c.Sealed.IsZero() {
		out = append(out, exceptionRow{Kind: "Not sealed", Text: "the transcript has no seal: the ceremony did not finish"})
	}
	return out
}

func eventException(c audit.Ceremony, run []int, i int) (exceptionRow, bool) {
	e := c.Events[i]
	x := exceptionRow{Line: e.Line, Step: e.Title}
	if t := firstSet(e.Finished, e.Started); !t.IsZero() {
		x.Time = utcStamp(t)
	}
	switch {
	case e.Kind == "failure":
		x.Kind, x.Text = "Failure", fmt.Sprintf("attempt %d failed: %s", max(e.Attempt, 1), e.Error)
	case e.Kind == "step" && failedBefore(c.Events, i):
		x.Kind, x.Text = "Retry", fmt.Sprintf("done on attempt %d", e.Attempt)
	case e.Kind == "resume":
		x.Kind, x.Text = "Resume", orElse(e.Summary, "the ceremony went on after a stop")
		x.Text = fmt.Sprintf("run %d begins: %s", run[i], x.Text)
	case e.Kind == "deviation":
		x.Kind, x.Text = "Deviation", e.Summary
	case e.Kind == "intent" && !intentFollowed(c.Events, run, i):
		x.Kind, x.Text = "Interruption", fmt.Sprintf("run %d was interrupted here: after “%s” it recorded nothing more for the step",
			run[i], orElse(e.Summary, "its intent"))
	default:
		return x, false
	}
	return x, true
}

// intentFollowed reports whether intent i has its step's entry in the same run.
func intentFollowed(events []audit.Event, run []int, i int) bool {
	for j := i + 1; j < len(events) && run[j] == run[i]; j++ {
		if events[j].StepID == events[i].StepID && (events[j].Kind == "step" || events[j].Kind == "failure") {
			return true
		}
	}
	return false
}

// failedBefore reports whether step entry i follows a failure of its step:
// it is a retry. (Preflight runs again after a resume without failing.)
func failedBefore(events []audit.Event, i int) bool {
	for j := i - 1; j >= 0; j-- {
		if events[j].StepID != events[i].StepID {
			continue
		}
		switch events[j].Kind {
		case "failure":
			return true
		case "step":
			return false
		}
	}
	return false
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

func exceptionTally(excs []exceptionRow) string {
	if len(excs) == 0 {
		return "No exceptions: every planned step was done on its first attempt, without interruption or deviation."
	}
	var kinds []string
	count := map[string]int{}
	for _, x := range excs {
		if count[x.Kind] == 0 {
			kinds = append(kinds, x.Kind)
		}
		count[x.Kind]++
	}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", count[k], strings.ToLower(k))
	}
	return fmt.Sprintf("⚠ %d exception%s: %s.", len(excs), pluralS(len(excs)), strings.Join(parts, ", "))
}

func pluralS(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func keyBlocks(keys []audit.Key) []factBlock {
	var out []factBlock
	for _, k := range keys {
		attrs, warn := keyAttributes(k.Attributes)
		b := factBlock{Title: fmt.Sprintf("Key %q (%s)", k.Label, k.Type), Warn: warn, Facts: []reportFact{
			{Label: "Made by step", Value: k.StepID, Mono: true},
			{Label: "CKA_ID", Value: k.CKAID, Mono: true},
			{Label: "Token attributes", Value: attrs, Warn: warn},
			digestFact("Public key SHA-256", k.SPKISHA256),
		}}
		if f, ok := adoptedFact(k); ok {
			b.Facts, b.Warn = append(b.Facts, f), b.Warn || f.Warn
		}
		out = append(out, b)
	}
	return out
}

// adoptedFact tells of a key its step found on the token rather than made.
// The transcript key always is: preflight makes it before the header, so
// that it signs from the first line. Any other was made by a run that was
// interrupted before it could record the key.
func adoptedFact(k audit.Key) (reportFact, bool) {
	switch {
	case !k.Adopted:
		return reportFact{}, false
	case k.StepID == string(steps.TranscriptKeyID):
		return reportFact{Label: "Generated", Value: "at preflight, before the header, so that it signs the transcript from its first line"}, true
	}
	return reportFact{Label: "Adopted", Value: "⚠ found on the token after an interruption, not generated in the run that recorded it", Warn: true}, true
}

// keyAttributes spells out what the token said of a private key, the way
// `hsm list` does, naming every property a ceremony key must have and lacks.
func keyAttributes(a map[string]bool) (string, bool) {
	if len(a) == 0 {
		return "⚠ not recorded", true
	}
	var parts []string
	warn := false
	need := func(name, yes, no string) {
		if a[name] {
			parts = append(parts, yes)
		} else {
			parts, warn = append(parts, no), true
		}
	}
	need("sensitive", "sensitive", "⚠ NOT sensitive")
	if _, ok := a["alwaysSensitive"]; ok {
		need("alwaysSensitive", "always sensitive", "⚠ NOT always sensitive")
	}
	need("neverExtractable", "never extractable", "⚠ NOT never-extractable")
	if a["extractable"] {
		parts, warn = append(parts, "⚠ EXTRACTABLE"), true
	}
	need("local", "generated on the token (local)", "⚠ NOT generated on the token")
	return strings.Join(parts, ", "), warn
}

func certBlocks(certs []audit.Certificate) []factBlock {
	var out []factBlock
	for _, c := range certs {
		chain, warn := chainWords(c)
		out = append(out, factBlock{Title: c.File, Warn: warn, Facts: []reportFact{
			{Label: "Subject", Value: c.Subject},
			{Label: "Issuer", Value: c.Issuer},
			{Label: "Serial", Value: c.Serial, Mono: true},
			{Label: "Valid", Value: utcStamp(c.NotBefore) + " to " + utcStamp(c.NotAfter)},
			digestFact("SHA-256", c.SHA256),
			{Label: "Chains to the CA", Value: chain, Warn: warn},
		}})
	}
	return out
}

func chainWords(c audit.Certificate) (string, bool) {
	switch {
	case c.ChainsToCA:
		return "yes", false
	case c.Subject == c.Issuer:
		return "self-signed", false
	}
	return "⚠ NO", true
}

func repoBlocks(repos []audit.Repository) []factBlock {
	var out []factBlock
	for _, r := range repos {
		check := "passed: notary's client check, with the CA pinned, accepts the recorded root.json"
		if !r.RootJSONValid {
			check = "⚠ FAILED: notary's client check, with the CA pinned, rejects the recorded root.json"
		}
		out = append(out, factBlock{Title: r.GUN, Warn: !r.RootJSONValid, Facts: []reportFact{
			{Label: "root.json version", Value: fmt.Sprint(r.RootVersion)},
			digestFact("Root key ID", r.RootKeyID),
			{Label: "Offline check", Value: check, Warn: !r.RootJSONValid},
		}})
	}
	return out
}

func declaredRows(declared []audit.DeclaredWitness, signed []audit.Witness) []declaredRow {
	var out []declaredRow
	for _, d := range declared {
		row := declaredRow{Name: d.Name, Role: d.Role, KeyID: hexGroups(d.KeyID), Signed: "⚠ has not signed", Warn: true}
		if i := slices.IndexFunc(signed, func(w audit.Witness) bool { return w.KeyID == d.KeyID }); i >= 0 {
			row.Signed, row.Warn = fmt.Sprintf("signed %s (line %d)", utcStamp(signed[i].Time), signed[i].Line), false
		}
		out = append(out, row)
	}
	return out
}

func signedRows(ws []audit.Witness) []signedRow {
	out := make([]signedRow, len(ws))
	for i, w := range ws {
		out[i] = signedRow{Name: w.Name, Role: w.Role, KeyID: hexGroups(w.KeyID), Time: utcStamp(w.Time), Statement: w.Statement, Line: w.Line, Declared: w.Declared}
	}
	return out
}

func checkRows(r *audit.Result) []checkRow {
	first := reportFailure(r)
	marked := false
	out := make([]checkRow, len(r.Checks))
	for i, c := range r.Checks {
		out[i] = checkRow{N: i + 1, Name: c.Name, Detail: c.Detail, OK: c.OK}
		if !c.OK && !marked && first != nil && c.Name == first.Check {
			out[i].First, marked = true, true
		}
	}
	return out
}

package ui

import (
	"fmt"
	"slices"

	"github.com/ceremony-dev/ceremony/audit"
)

// replayItem is one entry of the replay's script: the header, a step of the
// plan (or one the plan lacks), an event of no step (a resume, a
// deviation), or the seal with the witnesses and the checks.
type replayItem struct {
	kind   replayKind
	id     string // a step's ID
	title  string
	n      int           // a planned step's index in the plan; -1 otherwise
	seed   []string      // the seed commands a planned step replaces
	events []audit.Event // its lines, in transcript order
	hist   stepHistory   // a step's events as the report reads them
	state  replayState
}

type replayKind int

const (
	rpItemHeader replayKind = iota
	rpItemStep
	rpItemEvent // a resume, or a deviation outside any step
	rpItemSeal
	rpItemUnread // the transcript could not be read: only the checks
)

// replayState is an item's outcome as a glyph and a word, never colour
// alone: the word carries it on a monochrome screen and to a screen reader.
type replayState struct {
	glyph, word string
	tone        replayTone
}

type replayTone int

const (
	rpToneNone replayTone = iota
	rpToneGood
	rpToneWarn
	rpToneBad
)

// The words a state is shown with; replayWordWidth fits the longest.
var (
	rpStateHeader     = replayState{"≡", "header", rpToneNone}
	rpStateDone       = replayState{"✓", "done", rpToneGood}
	rpStateRetried    = replayState{"↻", "retried", rpToneWarn}
	rpStateResumedOK  = replayState{"↻", "resumed", rpToneWarn}
	rpStateFailed     = replayState{"✗", "FAILED", rpToneBad}
	rpStateStopped    = replayState{"⚠", "stopped", rpToneBad}
	rpStateNotRun     = replayState{"·", "not run", rpToneWarn}
	rpStateDeviation  = replayState{"!", "deviation", rpToneWarn}
	rpStateResume     = replayState{"↺", "resume", rpToneWarn}
	rpStateSealed     = replayState{"■", "sealed", rpToneGood}
	rpStateNotSealed  = replayState{"⚠", "NO SEAL", rpToneBad}
	rpStateUntrusted  = replayState{"✗", "UNTRUSTED", rpToneBad}
	rpStateUnreadable = replayState{"✗", "UNREAD", rpToneBad}
)

const replayWordWidth = 9

// replayItems lays the ceremony out as the wizard's script: the plan's steps
// in order, with the events of no step where they happened between them,
// framed by the header and the seal.
func replayItems(r *audit.Result) []replayItem {
	c := r.Ceremony
	if c.Tool == "" || len(c.Events) == 0 {
		return []replayItem{{kind: rpItemUnread, title: "Transcript not readable", n: -1, state: rpStateUnreadable}}
	}
	run := runNumbers(c.Events)
	var steps []replayItem
	for i, p := range c.Plan {
		steps = append(steps, rpNewStepItem(c, run, p.ID, p.Title, i, p.Seed))
	}
	for _, e := range unplanned(c) {
		if e.Kind == "header" || e.Kind == "seal" {
			continue
		}
		steps = append(steps, rpNewStepItem(c, run, e.StepID, e.Title, -1, nil))
	}
	items := []replayItem{{kind: rpItemHeader, title: "Transcript header", n: -1, state: rpStateHeader}}
	var loose []replayItem // events of no step, in transcript order
	var seal *replayItem
	for _, e := range c.Events {
		switch {
		case e.Kind == "header":
			items[0].events = append(items[0].events, e)
		case e.Kind == "seal":
			seal = &replayItem{kind: rpItemSeal, title: "Seal and witnesses", n: -1, events: []audit.Event{e}, state: rpStateSealed}
		case e.StepID == "":
			loose = append(loose, rpLooseItem(e, run))
		}
	}
	// Each loose event goes before the first step that began after it.
	for _, s := range steps {
		for len(loose) > 0 && (len(s.events) == 0 || loose[0].events[0].Line < s.events[0].Line) {
			items, loose = append(items, loose[0]), loose[1:]
		}
		items = append(items, s)
	}
	items = append(items, loose...)
	if seal == nil {
		seal = &replayItem{kind: rpItemSeal, title: "Seal and witnesses", n: -1, state: rpStateNotSealed}
	}
	items = append(items, *seal)
	for i := range items {
		if rpUntrusted(items[i].events) {
			items[i].state = rpStateUntrusted
		}
	}
	return items
}

func rpNewStepItem(c audit.Ceremony, run []int, id, title string, n int, seed []string) replayItem {
	it := replayItem{kind: rpItemStep, id: id, title: title, n: n, seed: seed, hist: historyOf(c.Events, run, id)}
	for _, e := range c.Events {
		if e.StepID == id {
			it.events = append(it.events, e)
		}
	}
	it.state = rpStepState(it)
	return it
}

// rpStepState is a step's outcome, the exceptions first; a deviation
// recorded during a step that was done shows before a retry or a resume.
func rpStepState(it replayItem) replayState {
	h := it.hist
	deviated := slices.ContainsFunc(it.events, func(e audit.Event) bool { return e.Kind == "deviation" })
	return rpOutcome(h, deviated)
}

func rpOutcome(h stepHistory, deviated bool) replayState {
	switch {
	case h.done == nil && len(h.failures) > 0:
		return rpStateFailed
	case h.done == nil && len(h.interrupted) > 0:
		return rpStateStopped
	case deviated:
		return rpStateDeviation
	case h.done != nil && len(h.failures) > 0:
		return rpStateRetried
	case h.done != nil && len(h.interrupted) > 0:
		return rpStateResumedOK
	case h.done != nil:
		return rpStateDone
	}
	return rpStateNotRun
}

func rpLooseItem(e audit.Event, run []int) replayItem {
	it := replayItem{kind: rpItemEvent, n: -1, events: []audit.Event{e}}
	switch e.Kind {
	case "resume":
		it.title, it.state = fmt.Sprintf("Resumed: run %d", rpRunOf(run, e)), rpStateResume
	case "deviation":
		it.title, it.state = "Deviation", rpStateDeviation
	default:
		it.title, it.state = e.Kind, replayState{"?", e.Kind, rpToneWarn}
	}
	return it
}

// rpRunOf is the run an event belongs to.
func rpRunOf(run []int, e audit.Event) int {
	if i := e.Line - 1; i >= 0 && i < len(run) {
		return run[i]
	}
	return 1
}

// rpUntrusted reports whether verification failed on one of the lines.
func rpUntrusted(events []audit.Event) bool {
	return slices.ContainsFunc(events, func(e audit.Event) bool { return e.Verification.Status == audit.LineFailed })
}

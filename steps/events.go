package steps

import "time"

// EventKind says what happened to a step.
type EventKind int

const (
	StepStarted  EventKind = iota // the step begins
	StepProgress                  // a long operation reports how it goes
	StepFinished                  // the step finished and is in the journal
	StepSkipped                   // the journal shows it finished in an earlier run
	StepFailed                    // the step failed; the failure is in the journal
	PlanFinished                  // every step finished; the journal is sealed
)

func (k EventKind) String() string {
	return [...]string{"started", "progress", "finished", "skipped", "failed", "done"}[k]
}

// Event is one thing the runner reports. A UI and a plain-text printer see the
// same stream.
type Event struct {
	Kind    EventKind
	Index   int // step number, 0 for preflight
	Total   int // steps in the plan
	StepID  ID
	Title   string
	Message string
	Result  *Result
	Err     error
	Time    time.Time
}

package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/progress"
	"charm.land/lipgloss/v2"
)

// etaWindow is how many of the last finished steps the estimate averages:
// enough to smooth one slow publish, few enough to follow a change of pace
// (certificates are quick, publishing is not).
const etaWindow = 20

// runProgress is the bar over the log: the plan's finished share and, once
// this run has finished a few steps, the time left. Only the time steps
// took counts, not the time a gate waited for a person.
type runProgress struct {
	bar  progress.Model
	took []time.Duration // of the steps this run finished, in order
}

func newRunProgress(st Styles) runProgress {
	bar := progress.New(progress.WithoutPercentage(), progress.WithFillCharacters('█', '░'))
	bar.FullColor, bar.EmptyColor = st.OK.GetForeground(), st.Muted.GetForeground()
	return runProgress{bar: bar}
}

func (p *runProgress) finished(d time.Duration) {
	if d > 0 {
		p.took = append(p.took, d)
	}
}

// left estimates the time the remaining steps take; ok is false until the
// run has finished enough steps to say.
func (p *runProgress) left(remaining int) (time.Duration, bool) {
	n := min(len(p.took), etaWindow)
	if n < 3 || remaining <= 0 {
		return 0, false
	}
	var sum time.Duration
	for _, d := range p.took[len(p.took)-n:] {
		sum += d
	}
	return sum / time.Duration(n) * time.Duration(remaining), true
}

// view is the bar, "12 of 40 steps" and, when eta, the estimate, in
// width w.
func (p *runProgress) view(done, total, w int, eta bool) string {
	if total <= 0 || w < 24 {
		return ""
	}
	text := fmt.Sprintf(" %d of %d steps", done, total)
	if d, ok := p.left(total - done); ok && eta {
		text += " · about " + roughly(d) + " left"
	}
	barW := min(max(w-lipgloss.Width(text), 0), 30)
	if barW < 8 {
		return strings.TrimSpace(text)
	}
	p.bar.SetWidth(barW)
	return p.bar.ViewAs(float64(done)/float64(total)) + text
}

// roughly says a duration the way a person would: 40s, 3m10s, 1h5m.
func roughly(d time.Duration) string {
	switch {
	case d < time.Second:
		return "a second"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return strings.Replace(d.Round(10*time.Second).String(), "m0s", "m", 1)
	}
	return strings.Replace(d.Round(time.Minute).String(), "m0s", "m", 1)
}

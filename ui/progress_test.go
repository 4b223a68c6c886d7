package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

func TestRoughly(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{300 * time.Millisecond, "a second"},
		{42*time.Second + 400*time.Millisecond, "42s"},
		{3*time.Minute + 14*time.Second, "3m10s"},
		{3*time.Minute + 2*time.Second, "3m"},
		{65*time.Minute + 40*time.Second, "1h6m"},
	} {
		if got := roughly(c.d); got != c.want {
			t.Errorf("roughly(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestRunProgress: no estimate until three steps have run; then the mean of
// the last steps times what is left; the bar's share follows done/total.
func TestRunProgress(t *testing.T) {
	p := newRunProgress(NewStyles())
	if got := ansi.Strip(p.view(1, 10, 60, true)); strings.Contains(got, "left") || !strings.Contains(got, "1 of 10 steps") {
		t.Errorf("before any step ran: %q", got)
	}
	for _, s := range []int{1, 2, 3} {
		p.finished(time.Duration(s) * time.Second)
	}
	got := ansi.Strip(p.view(4, 10, 60, true))
	if !strings.Contains(got, "4 of 10 steps · about 12s left") {
		t.Errorf("after three steps of 1, 2 and 3 s with 6 left: %q", got)
	}
	if full, empty := strings.Count(got, "█"), strings.Count(got, "░"); full == 0 || empty == 0 || full*10 > (full+empty)*5 {
		t.Errorf("bar %q: %d full, %d empty for 4 of 10", got, full, empty)
	}
	for range etaWindow {
		p.finished(100 * time.Millisecond)
	}
	if got := ansi.Strip(p.view(35, 40, 60, true)); !strings.Contains(got, "about a second left") {
		t.Errorf("the estimate does not follow the last %d steps: %q", etaWindow, got)
	}
	if got := ansi.Strip(p.view(4, 10, 60, false)); strings.Contains(got, "left") {
		t.Errorf("an estimate while the run waits for a person: %q", got)
	}
	if got := p.view(1, 10, 10, true); got != "" {
		t.Errorf("no room, yet %q", got)
	}
}

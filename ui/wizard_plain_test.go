package ui

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/steps"
)

func TestPlainAsk(t *testing.T) {
	p := wizardPlan(t)
	gate := steps.Question{Kind: steps.Confirm, Step: &p.Steps[1], Index: 1, Total: 7}
	fail := steps.Question{Kind: steps.Failed, Step: &p.Steps[7], Index: 7, Total: 7, Err: errors.New("step " + string(p.Steps[7].ID) + ": refused\nmore")}
	keyGate := steps.Question{Kind: steps.Confirm, Step: &p.Steps[2], Index: 2, Total: 7}
	skippable := fail
	skippable.CanSkip = true
	cases := []struct {
		name  string
		q     steps.Question
		in    string
		want  steps.Answer
		shows string
	}{
		{"yes goes on", gate, "yes\n", steps.Proceed, `generate CA "ca" (ecdsa-p256) in the token`},
		{"enter alone asks again", gate, "\n\nyes\n", steps.Proceed, "Only yes goes on"},
		{"y is not yes", gate, "y\nno\n", steps.Abort, "Only yes goes on"},
		{"no stops", gate, "no\n", steps.Abort, "Type yes to go on"},
		{"end of input stops", gate, "", steps.Abort, "Type yes"},
		{"the transcript key comes before step 1", keyGate, "yes\n", steps.Proceed, "Before step 1: the transcript key, irreversible. It comes first on purpose"},
		{"the transcript key's gate makes the key only", keyGate, "yes\n", steps.Proceed, "It will:\n  - generate transcript signer \"transcript\" (ecdsa-p256) in the token\nType yes"},
		{"retry", fail, "retry\n", steps.Retry, "failed: refused"},
		{"skip not offered", fail, "skip\na\n", steps.Abort, "Type retry or abort"},
		{"skip offered", skippable, "s\n", steps.Skip, "skip (it can be added later)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			if got := PlainAsk(strings.NewReader(c.in), &out, nil)(context.Background(), c.q); got != c.want {
				t.Errorf("answer %v, want %v", got, c.want)
			}
			if !strings.Contains(out.String(), c.shows) {
				t.Errorf("output lacks %q:\n%s", c.shows, out.String())
			}
		})
	}
}

// TestEngine: what a job reports reaches the model in order, answers go
// back, and Stop ends a job that waits for an answer.
func TestEngine(t *testing.T) {
	p := wizardPlan(t)
	e := NewEngine(context.Background(), func(ctx context.Context, e *Engine) error {
		e.Event(steps.Event{Kind: steps.StepStarted})
		e.Write([]byte("== narration, in two wri"))
		e.Write([]byte("tes\n"))
		if a := e.Ask(ctx, steps.Question{Kind: steps.Confirm, Step: &p.Steps[1]}); a != steps.Proceed {
			return errors.New("not confirmed")
		}
		pin, err := e.Secret(ctx, "PIN")
		if err != nil || string(pin) != "1234" {
			return errors.New("no PIN")
		}
		e.Ask(ctx, steps.Question{Kind: steps.Confirm, Step: &p.Steps[2]})
		return ctx.Err()
	})
	go e.start()()
	var kinds []string
	for len(kinds) < 5 {
		switch m := e.next()().(type) {
		case eventMsg:
			kinds = append(kinds, "event")
		case narrationMsg:
			kinds = append(kinds, "narration:"+string(m))
		case questionMsg:
			kinds = append(kinds, "question")
			if len(kinds) < 4 {
				m.reply <- steps.Proceed
			} else if err := e.Stop(); !errors.Is(err, context.Canceled) {
				t.Errorf("Stop: %v", err)
			}
		case secretMsg:
			kinds = append(kinds, "secret")
			m.reply <- secretReply{value: []byte("1234")}
		default:
			t.Fatalf("unexpected %T", m)
		}
	}
	want := "event narration:== narration, in two writes question secret question"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if m, ok := e.next()().(runDoneMsg); !ok || !errors.Is(m.err, context.Canceled) {
		t.Errorf("end %v", m)
	}
}

// TestPlainDeviation: d at a question takes a deviation, says when it is on
// the record, and asks the question again; an empty text is refused, and
// before the journal exists (nobody listens) it says so.
func TestPlainDeviation(t *testing.T) {
	p := wizardPlan(t)
	gate := steps.Question{Kind: steps.Confirm, Step: &p.Steps[1], Index: 1, Total: 7}
	devs := make(chan steps.Deviation)
	var got []steps.Deviation
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range devs {
			got = append(got, d)
			d.Recorded <- nil
		}
	}()
	var out strings.Builder
	in := "d\nthe safe was open\nWitness A\nd\n \n\nyes\n"
	if a := PlainAsk(strings.NewReader(in), &out, devs)(context.Background(), gate); a != steps.Proceed {
		t.Errorf("answer %v after the deviation, want proceed", a)
	}
	close(devs)
	<-done
	if len(got) != 1 || got[0].Text != "the safe was open" || got[0].By != "Witness A" {
		t.Errorf("deviations %+v", got)
	}
	// After each deviation the question is asked again.
	if n := strings.Count(out.String(), "or d to record a deviation: "); n != 3 {
		t.Errorf("the gate was asked %d times, want 3 (once, then after each deviation):\n%s", n, out.String())
	}
	for _, want := range []string{"Deviation by Witness A recorded in the transcript.", "Deviation not recorded: say what happened", "or d to record a deviation"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	PlainAsk(strings.NewReader("d\nearly\n\nno\n"), &out, make(chan steps.Deviation))(context.Background(), gate)
	if !strings.Contains(out.String(), "recorded once preflight has passed") {
		t.Errorf("a deviation nobody can record:\n%s", out.String())
	}
}

// TestPlainAskReadsOnlyWhenAsked: between questions nothing is read, so the
// line typed at a masked prompt in between stays for that prompt.
func TestPlainAskReadsOnlyWhenAsked(t *testing.T) {
	p := wizardPlan(t)
	gate := steps.Question{Kind: steps.Confirm, Step: &p.Steps[1], Index: 1, Total: 7}
	r, w := io.Pipe()
	ask := PlainAsk(r, io.Discard, nil)
	go w.Write([]byte("yes\n"))
	if a := ask(context.Background(), gate); a != steps.Proceed {
		t.Fatalf("answer %v", a)
	}
	// The next line is the passphrase's: the answers' reader must not take it.
	taken := make(chan struct{})
	go func() { w.Write([]byte("the passphrase\n")); close(taken) }()
	select {
	case <-taken:
		t.Fatal("a line typed between questions was read by the answers' reader")
	case <-time.After(200 * time.Millisecond):
	}
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if got := string(buf[:n]); got != "the passphrase\n" {
		t.Fatalf("the prompt would read %q", got)
	}
}

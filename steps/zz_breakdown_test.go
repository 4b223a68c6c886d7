package steps

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

func TestZZBreakdown(t *testing.T) {
	srv := testenv.NotaryServerT(t)
	b := &testing.B{}
	_ = b
	plan := scalePlanT(t, srv, 100)
	sum := map[string]time.Duration{}
	start := map[ID]time.Time{}
	t0 := time.Now()
	err := Run(context.Background(), plan, Options{Events: func(e Event) {
		k, _, _ := strings.Cut(string(e.StepID), ":")
		switch e.Kind {
		case StepStarted:
			start[e.StepID] = time.Now()
		case StepFinished:
			sum[k] += time.Since(start[e.StepID])
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("total", time.Since(t0), sum)
}

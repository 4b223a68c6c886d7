package audit_test

import (
	"context"
	"slices"
	"testing"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/audit/audittest"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
)

// TestLineChecks: every event says what verification established of its
// line, with the CA, with another CA, and read without one (Read), and
// carries what the replay shows of it (inputs, files, the certificates'
// steps).
func TestLineChecks(t *testing.T) {
	t.Parallel()
	c := audittest.Run(t)

	res := verify(t, c.Transcript, audit.Options{CA: c.CA, ArtifactsDir: c.Out})
	if !res.OK || res.Unanchored || res.Ceremony.Training {
		t.Fatalf("verified: OK %v, unanchored %v, training %v", res.OK, res.Unanchored, res.Ceremony.Training)
	}
	for _, e := range res.Ceremony.Events {
		if e.Verification.Status != audit.LineVerified {
			t.Errorf("line %d (%s): %+v", e.Line, e.Kind, e.Verification)
		}
		if (e.Kind == transcript.KindHeader) != (e.Inputs == nil) && e.Kind != transcript.KindSeal && e.Kind != transcript.KindResume {
			t.Errorf("line %d (%s): inputs %v", e.Line, e.Kind, e.Inputs)
		}
		if e.StepID == string(steps.CAID) && e.Kind == transcript.KindStep {
			if !slices.Equal(e.Verification.Checks, []string{audit.CheckCA, audit.CheckCertificates, audit.CheckArtifacts}) {
				t.Errorf("the CA's line: checks %v", e.Verification.Checks)
			}
			if len(e.Files) != 1 || e.Files[0].Name != steps.CAFile || len(e.Files[0].SHA256) != 64 {
				t.Errorf("the CA's line: files %+v", e.Files)
			}
		}
		if e.StepID == "notary-init:"+audittest.GUN && !slices.Contains(e.Verification.Checks, audit.CheckRootJSON) {
			t.Errorf("notary init's line: checks %v", e.Verification.Checks)
		}
	}
	for _, cert := range res.Ceremony.Certificates {
		if cert.StepID == "" || cert.Line < 2 || res.Ceremony.Events[cert.Line-1].StepID != cert.StepID {
			t.Errorf("certificate %s: step %q, line %d", cert.File, cert.StepID, cert.Line)
		}
	}

	// Another CA: the CA's own line fails, and nothing is anchored.
	other, _ := audittest.OtherCA(t)
	res = verify(t, c.Transcript, audit.Options{CA: other})
	for _, e := range res.Ceremony.Events {
		want := audit.LineSigned
		if e.Line == res.Failure.Line {
			want = audit.LineFailed
		}
		if e.Verification.Status != want {
			t.Errorf("another CA, line %d: %+v, want %s", e.Line, e.Verification, want)
		}
	}

	// Read: the transcript holds among itself; nothing anchors it.
	read, err := audit.Read(context.Background(), c.Transcript)
	if err != nil {
		t.Fatal(err)
	}
	if read.OK || !read.Unanchored || read.Failure != nil || len(read.Checks) != 1 || !read.Checks[0].OK || read.Ceremony.Tool != "ceremony" {
		t.Fatalf("read: %+v", read)
	}
	if len(read.Witnesses) != 1 || read.Witnesses[0].Name != "Alice" || !read.Witnesses[0].Declared {
		t.Errorf("read: witnesses %+v", read.Witnesses)
	}
	for _, e := range read.Ceremony.Events {
		if e.Verification.Status != audit.LineSigned {
			t.Errorf("read, line %d: %+v", e.Line, e.Verification)
		}
	}
	for _, cert := range read.Ceremony.Certificates {
		if cert.ChainsToCA {
			t.Errorf("read: %s said to chain to a CA nobody gave", cert.File)
		}
	}
	// A transcript that does not read is reported as such, without a CA too.
	torn := audittest.WriteTemp(t, "transcript.intoto.jsonl", audittest.Read(t, c.Transcript)[:100])
	if read, err := audit.Read(context.Background(), torn); err != nil || read.Failure == nil || read.Failure.Check != audit.CheckTranscript {
		t.Errorf("read a torn transcript: %v, %+v", err, read)
	}
}

package audit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
)

// VerifyOutput checks a ceremony's output directory as `ceremony verify
// --artifacts` would, anchored in the directory's own ca.pem: the check a
// run (the wizard's end screen, the demo) makes of what it just wrote. An
// auditor anchors in a CA certificate they hold, with Verify.
func VerifyOutput(ctx context.Context, out string) (*Result, error) {
	b, err := os.ReadFile(filepath.Join(out, steps.CAFile))
	if err != nil {
		return nil, err
	}
	ca, err := pki.ParseCertPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", steps.CAFile, err)
	}
	return Verify(ctx, filepath.Join(out, transcript.FileName), Options{CA: ca, ArtifactsDir: out})
}

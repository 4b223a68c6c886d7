package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/ui"
)

// TestDemoTraining: everything a rehearsal makes says it is one. Every
// certificate's subject carries O=TRAINING - NOT FOR PRODUCTION (as openssl
// reads it) and keeps its CN, the transcript header says training, and
// verify, report and replay say TRAINING. (TestDemo has the notary CLI read
// the same demo's repository back, pinned to its CA.)
func TestDemoTraining(t *testing.T) {
	t.Parallel()
	openssl := testenv.Tool(t, "openssl")
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(binary, "demo", "--non-interactive", "--out", dir)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, b)
	}
	out := filepath.Join(dir, "ceremony-out")
	for file, cn := range map[string]string{
		steps.CAFile: "Docker Notary CA (rehearsal)", steps.TranscriptCertFile: "Ceremony transcript signer", steps.RootCertFile: "root",
		steps.RepoCertFile("docker.io/demo/nginx"): "docker.io/demo/nginx",
	} {
		b, err := exec.Command(openssl, "x509", "-in", filepath.Join(out, file), "-noout", "-subject").CombinedOutput()
		if want := "subject=O = TRAINING - NOT FOR PRODUCTION, CN = " + cn + "\n"; err != nil || string(b) != want {
			t.Errorf("%s: %v %q, want %q", file, err, b, want)
		}
	}
	if !headerTraining(t, filepath.Join(out, transcript.FileName)) {
		t.Error("the transcript header does not say training: true")
	}
	path, ca := filepath.Join(out, transcript.FileName), filepath.Join(out, steps.CAFile)
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"verify", path, "--ca", ca}, []string{"Transcript " + path + "\n" + ui.TrainingLine, "VERIFIED: every check holds, anchored in the CA certificate given\n" + ui.TrainingLine}},
		{[]string{"report", path, "--ca", ca}, []string{"> **⚠ TRAINING: a rehearsal, not a production ceremony", "- **Training:** **⚠ YES: a rehearsal, not for production**"}},
		{[]string{"replay", path, "--ca", ca, "--plain"}, []string{"✓ VERIFIED against ca.pem: every check holds, anchored in the CA certificate\n⚠ TRAINING — NOT FOR PRODUCTION",
			"Training    ⚠ YES: a rehearsal, not for production", "subject  CN=root,O=TRAINING - NOT FOR PRODUCTION"}},
		{[]string{"verify", path, "--ca", ca, "--json"}, []string{`"training": true`}},
	} {
		r := ceremony(t, nil, tc.args...)
		if r.code != 0 {
			t.Errorf("%s: exit %d\n%s", tc.args[0], r.code, r.stderr)
		}
		for _, want := range tc.wants {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%s lacks %q:\n%s", tc.args[0], want, r.stdout)
			}
		}
	}
}

// headerTraining reads the transcript's first line, a DSSE envelope, and
// returns its header's inputs.training.
func headerTraining(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	if !sc.Scan() {
		t.Fatal("empty transcript")
	}
	var env struct{ Payload string }
	if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate struct {
			Kind   string         `json:"kind"`
			Inputs map[string]any `json:"inputs"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil || st.Predicate.Kind != transcript.KindHeader {
		t.Fatalf("header: %v, kind %q", err, st.Predicate.Kind)
	}
	return st.Predicate.Inputs["training"] == true
}

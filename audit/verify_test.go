package audit_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/audit/audittest"
	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
)

func TestMain(m *testing.M) { os.Exit(testenv.RunWithSoftHSM(m)) }

var repoCert = steps.RepoCertFile(audittest.GUN)

// TestVerify runs one whole ceremony and verifies it untouched, then
// doctored in each way an attacker (or a careless copy) could.
func TestVerify(t *testing.T) {
	t.Parallel()
	c := audittest.Run(t)
	t.Run("untouched", func(t *testing.T) {
		t.Parallel()
		res := verify(t, c.Transcript, audit.Options{CA: c.CA, ArtifactsDir: c.Out})
		if !res.OK || res.Failure != nil || len(res.Checks) != 7 {
			t.Fatalf("untouched transcript: %+v", res)
		}
		checkCeremony(t, c, res)
	})
	for _, tc := range tamperCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path, opts := tc.setup(t, c.Copy(t))
			res := verify(t, path, opts)
			if tc.check == "" {
				if !res.OK {
					t.Fatalf("want OK, got %+v", res.Failure)
				}
				return
			}
			f := res.Failure
			if res.OK || f == nil || f.Check != tc.check || !strings.Contains(f.Message, tc.want) || (f.Line > 0) != tc.line {
				t.Fatalf("failure %+v\nwant check %q, a line: %v, message with %q", f, tc.check, tc.line, tc.want)
			}
			if last := res.Checks[len(res.Checks)-1]; last.OK || last.Name != tc.check {
				t.Fatalf("last check %+v, want %s failed", last, tc.check)
			}
			if tc.then != nil {
				tc.then(t, res)
			}
		})
	}
}

type tamperCase struct {
	name  string
	setup func(t *testing.T, c *audittest.Ceremony) (string, audit.Options)
	check string // "" when the result must be OK
	line  bool   // the failure names a line
	want  string
	then  func(t *testing.T, res *audit.Result)
}

func tamperCases() []tamperCase {
	return []tamperCase{
		{name: "re-signed unchanged by the ceremony's own key", setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			return resigned(t, c, c.TranscriptSigner(t), nil), audit.Options{CA: c.CA}
		}},
		{name: "another CA", check: audit.CheckCA, line: true, want: "verifying against another CA", setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			other, _ := audittest.OtherCA(t)
			return c.Transcript, audit.Options{CA: other}
		}},
		{name: "signer certificate from another CA", check: audit.CheckSigner, line: true, want: "was not issued by the CA given", setup: signerFromOtherCA},
		{name: "re-signed by another key", check: audit.CheckSigner, line: true, want: "but the transcript is signed by", setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			k := testenv.SoftKey(t, keyspec.ECDSAP256)
			return resigned(t, c, audittest.Signer(t, k), audittest.SignAs(t, k)), audit.Options{CA: c.CA}
		}},
		{name: "artifact changed on disk", check: audit.CheckArtifacts, want: repoCert + " in ", setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			p := filepath.Join(c.Out, repoCert)
			audittest.Write(t, p, append(audittest.Read(t, p), '\n'))
			return c.Transcript, audit.Options{CA: c.CA, ArtifactsDir: c.Out}
		}, then: wantMessage("the file was changed")},
		{name: "artifact missing", check: audit.CheckArtifacts, want: "root.csr is missing from", setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			if err := os.Remove(filepath.Join(c.Out, steps.RootCSRFile)); err != nil {
				t.Fatal(err)
			}
			return c.Transcript, audit.Options{CA: c.CA, ArtifactsDir: c.Out}
		}},
		{name: "witness signature over another transcript", check: audit.CheckTranscript, line: true, want: "witness line of another transcript", setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			k := testenv.SoftKey(t, keyspec.ECDSAP256)
			other := audittest.Resign(t, audittest.Read(t, c.Transcript), audittest.Signer(t, k), audittest.SignAs(t, k))
			line := audittest.WitnessLine(t, other, c.Bob, "Bob")
			return appended(t, c, line), audit.Options{CA: c.CA}
		}},
		{name: "two witnesses required, one signed", check: audit.CheckWitnesses, want: "2 declared witnesses must sign, 1 did: Alice; not signed: Bob (sha256:", setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			return c.Transcript, audit.Options{CA: c.CA, RequireWitnesses: 2}
		}},
		{name: "undeclared witness does not count", check: audit.CheckWitnesses, want: "1 did: Alice; not signed: Bob", setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			line := audittest.WitnessLine(t, audittest.Read(t, c.Transcript), testenv.SoftKey(t, keyspec.ECDSAP256), "Mallory")
			return appended(t, c, line), audit.Options{CA: c.CA, RequireWitnesses: 2}
		}, then: func(t *testing.T, res *audit.Result) {
			wantMessage("not declared, not counted: Mallory")(t, res)
			if len(res.Witnesses) != 2 || !res.Witnesses[0].Declared || res.Witnesses[1].Declared || res.Witnesses[1].Name != "Mallory" {
				t.Fatalf("witnesses %+v", res.Witnesses)
			}
		}},
		{name: "certificate fact doctored", check: audit.CheckCertificates, line: true, want: repoCert + ": the recorded sha256 " + strings.Repeat("0", 64), setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			return resigned(t, c, c.TranscriptSigner(t), onStep(steps.RepoID(audittest.GUN), func(st audittest.Statement) {
				st.Results()["certificate"].(map[string]any)["sha256"] = strings.Repeat("0", 64)
			})), audit.Options{CA: c.CA}
		}},
		{name: "repository certificate swapped for the transcript's", check: audit.CheckCertificates, line: true, want: `has CN "Ceremony transcript signer", its repository is ` + audittest.GUN, setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			tc := audittest.Read(t, filepath.Join(c.Out, steps.TranscriptCertFile))
			return resigned(t, c, c.TranscriptSigner(t), onStep(steps.RepoID(audittest.GUN), func(st audittest.Statement) {
				st.SetSubject(repoCert, tc)
				st.Results()["certificate"].(map[string]any)["sha256"] = audittest.SHA256Hex(derOf(t, tc))
			})), audit.Options{CA: c.CA}
		}},
		{name: "root.json signature doctored", check: audit.CheckRootJSON, line: true, want: "notary rejects the root.json of " + audittest.GUN, setup: func(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
			return resigned(t, c, c.TranscriptSigner(t), onStep(steps.NotaryInitID(audittest.GUN), func(st audittest.Statement) {
				name := "notary/" + audittest.GUN + "/root.json"
				st.SetSubject(name, zeroSignatures(t, st.Subject(name)))
			})), audit.Options{CA: c.CA}
		}},
	}
}

func signerFromOtherCA(t *testing.T, c *audittest.Ceremony) (string, audit.Options) {
	audittest.Write(t, c.Transcript, audittest.SignerFromOtherCA(t, audittest.Read(t, c.Transcript)))
	return c.Transcript, audit.Options{CA: c.CA}
}

// resigned writes c's transcript re-signed by signer after edit (nil: none).
func resigned(t *testing.T, c *audittest.Ceremony, signer transcript.Signer, edit func(int, audittest.Statement)) string {
	t.Helper()
	if edit == nil {
		edit = func(int, audittest.Statement) {}
	}
	data := audittest.Resign(t, audittest.Read(t, c.Transcript), signer, edit)
	audittest.Write(t, c.Transcript, data)
	return c.Transcript
}

// onStep is an edit of the finished entry of step id.
func onStep(id steps.ID, edit func(audittest.Statement)) func(int, audittest.Statement) {
	return func(_ int, st audittest.Statement) {
		if st.StepID() == string(id) && st.Kind() == transcript.KindStep {
			edit(st)
		}
	}
}

func appended(t *testing.T, c *audittest.Ceremony, line []byte) string {
	t.Helper()
	audittest.Write(t, c.Transcript, append(audittest.Read(t, c.Transcript), line...))
	return c.Transcript
}

// zeroSignatures replaces the signature bytes in a root.json by zeros.
func zeroSignatures(t *testing.T, rootJSON []byte) []byte {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(rootJSON, &root); err != nil {
		t.Fatal(err)
	}
	for _, s := range root["signatures"].([]any) {
		sig := s.(map[string]any)
		raw, _ := base64.StdEncoding.DecodeString(sig["sig"].(string))
		sig["sig"] = base64.StdEncoding.EncodeToString(make([]byte, len(raw)))
	}
	b, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func derOf(t *testing.T, pemBytes []byte) []byte {
	t.Helper()
	cert, err := pki.ParseCertPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert.Raw
}

func wantMessage(s string) func(*testing.T, *audit.Result) {
	return func(t *testing.T, res *audit.Result) {
		t.Helper()
		if !strings.Contains(res.Failure.Message, s) {
			t.Fatalf("failure %q lacks %q", res.Failure.Message, s)
		}
	}
}

func verify(t *testing.T, path string, opts audit.Options) *audit.Result {
	t.Helper()
	res, err := audit.Verify(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var fingerprint = regexp.MustCompile(`^[0-9A-F]{4}( [0-9A-F]{4}){15}$`)

// checkCeremony compares what the Result tells of the ceremony with what
// the fixture did.
func checkCeremony(t *testing.T, c *audittest.Ceremony, res *audit.Result) {
	t.Helper()
	cer := res.Ceremony
	if cer.Tool != "ceremony" || cer.Kind != "root" || cer.Operator != "Olivia" || cer.Token.Label != c.Token.Label ||
		cer.Module.SHA256 == "" || cer.Started.IsZero() || cer.Sealed.Before(cer.Started) || !strings.HasPrefix(cer.ConfigDigest, "sha256:") {
		t.Errorf("ceremony %+v", cer)
	}
	var planned, finished []string
	for _, p := range cer.Plan {
		planned = append(planned, p.ID)
	}
	for _, e := range cer.Events {
		if e.Kind == transcript.KindStep {
			finished = append(finished, e.StepID)
		}
	}
	if len(planned) != 8 || !slices.Equal(planned, finished) {
		t.Errorf("planned %v, finished %v", planned, finished)
	}
	if last := cer.Events[len(cer.Events)-1]; last.Kind != transcript.KindSeal || cer.Events[0].Kind != transcript.KindHeader {
		t.Errorf("events from %s to %s", cer.Events[0].Kind, last.Kind)
	}
	var labels []string
	for _, k := range cer.Keys {
		labels = append(labels, k.Label)
		if !k.Attributes["sensitive"] || k.Attributes["extractable"] {
			t.Errorf("key %+v", k)
		}
	}
	if !slices.Equal(labels, []string{"ca", "transcript", "root"}) {
		t.Errorf("keys %v", labels)
	}
	chains := map[string]bool{}
	for _, cert := range cer.Certificates {
		chains[cert.File] = cert.ChainsToCA
		if !fingerprint.MatchString(cert.Fingerprint) {
			t.Errorf("%s fingerprint %q", cert.File, cert.Fingerprint)
		}
	}
	want := map[string]bool{steps.CAFile: false, steps.TranscriptCertFile: true, steps.RootCertFile: false, repoCert: true}
	if !maps.Equal(chains, want) {
		t.Errorf("certificates (chain to the CA) %v, want %v", chains, want)
	}
	if r := cer.Repositories; len(r) != 1 || r[0].GUN != audittest.GUN || r[0].RootVersion != 2 || !r[0].RootJSONValid || r[0].RootKeyID == "" {
		t.Errorf("repositories %+v", r)
	}
	tc := derOf(t, audittest.Read(t, filepath.Join(c.Out, steps.TranscriptCertFile)))
	if cer.Signer.KeyID == "" || cer.Signer.Label != "transcript" || cer.Signer.Certificate != audittest.SHA256Hex(tc) {
		t.Errorf("signer %+v", cer.Signer)
	}
	if len(cer.Declared) != 2 || len(res.Witnesses) != 1 || res.Witnesses[0].Name != "Alice" || !res.Witnesses[0].Declared ||
		res.Witnesses[0].KeyID != audittest.KeyID(t, c.Alice) {
		t.Errorf("declared %+v, witnesses %+v", cer.Declared, res.Witnesses)
	}
	// The Result is plain data: it goes through JSON as it is.
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back audit.Result
	if err := json.Unmarshal(b, &back); err != nil || !back.OK || len(back.Ceremony.Certificates) != 4 {
		t.Errorf("JSON round trip: %v", err)
	}
}

// TestVerifyUnsealed: a ceremony killed before its seal does not verify.
func TestVerifyUnsealed(t *testing.T) {
	t.Parallel()
	gun := "docker.io/audit/unsealed"
	cfg, err := config.Load(testenv.Ceremony{Token: testenv.NewToken(t), GUNs: []string{gun}}.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	audittest.RunUntil(t, cfg, "repo:"+gun+":after-record")
	ca := audittest.ReadCert(t, filepath.Join(cfg.OutputDir(), steps.CAFile))
	res := verify(t, filepath.Join(cfg.OutputDir(), transcript.FileName), audit.Options{CA: ca})
	if f := res.Failure; res.OK || f == nil || f.Check != audit.CheckTranscript || !strings.Contains(f.Message, "the ceremony did not finish") {
		t.Fatalf("unsealed transcript: %+v", f)
	}
	// What is there still reads, anchored in the CA: an auditor can see
	// how far the ceremony went.
	if !res.Unfinished || !res.Ceremony.Sealed.IsZero() {
		t.Fatalf("unfinished %v, sealed %v", res.Unfinished, res.Ceremony.Sealed)
	}
	steps := map[string]audit.LineStatus{}
	for _, e := range res.Ceremony.Events {
		if e.StepID != "" {
			steps[e.StepID] = e.Verification.Status
		}
	}
	if len(steps) < 4 || steps["ca"] != audit.LineVerified || steps["repo:"+gun] != audit.LineVerified {
		t.Fatalf("the unfinished ceremony's steps: %v", steps)
	}
	for _, c := range res.Checks {
		if c.Name != audit.CheckTranscript && c.Name != audit.CheckWitnesses && !c.OK {
			t.Errorf("check %s failed on the lines that are there: %s", c.Name, c.Detail)
		}
	}
}

func TestVerifyInputs(t *testing.T) {
	t.Parallel()
	ca, _ := audittest.OtherCA(t)
	for _, tc := range []struct {
		name string
		path string
		opts audit.Options
		want string
	}{
		{"no CA", "x", audit.Options{}, "no CA certificate"},
		{"no transcript", filepath.Join(t.TempDir(), "none"), audit.Options{CA: ca}, "no such file"},
	} {
		if _, err := audit.Verify(context.Background(), tc.path, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

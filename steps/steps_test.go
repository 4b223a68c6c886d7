package steps_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/audit/audittest"

	"github.com/ceremony-dev/ceremony/hsm/keyspec"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/hsm"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
	"github.com/theupdateframework/notary/tuf/utils"
)

func TestMain(m *testing.M) {
	trust.SetNotaryLog(io.Discard, false)
	os.Exit(testenv.RunWithSoftHSM(m))
}

// load writes c and loads it.
func load(t *testing.T, c testenv.Ceremony) *config.Config {
	t.Helper()
	cfg, err := config.Load(c.Write(t))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runUntil stops a run at the hook point, as a crash there would.
func runUntil(t *testing.T, cfg *config.Config, point string) { audittest.RunUntil(t, cfg, point) }

// stepIDs lists the IDs of the events of one kind, in order.
func stepIDs(events []steps.Event, kind steps.EventKind) []string {
	var ids []string
	for _, e := range events {
		if e.Kind == kind {
			ids = append(ids, string(e.StepID))
		}
	}
	return ids
}

// preflightRefuses runs cfg and requires preflight to refuse it with a
// problem mentioning each of wants, having made nothing on the token.
func preflightRefuses(t *testing.T, tok testenv.Token, cfg *config.Config, wants ...string) *steps.ProblemsError {
	t.Helper()
	_, err := run(t, cfg)
	var pe *steps.ProblemsError
	if !errors.As(err, &pe) {
		t.Fatalf("preflight did not refuse: %v", err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("preflight: %v; want a problem mentioning %q", err, w)
		}
	}
	if objs := listToken(t, tok); len(objs) != 0 {
		t.Fatalf("a refused preflight left %d objects on the token", len(objs))
	}
	return pe
}

// threePairs is countClasses of a token holding exactly the CA, root and
// transcript key pairs with their certificates.
const threePairs = "ca: private-key public-key certificate; root: private-key public-key certificate; transcript: private-key public-key certificate"

func run(t *testing.T, cfg *config.Config) ([]steps.Event, error) {
	t.Helper()
	var events []steps.Event
	err := steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Events: func(e steps.Event) { events = append(events, e) }, Version: "test"})
	return events, err
}

func TestRunCertificateSteps(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	guns := []string{"docker.io/alice/nginx", "docker.io/alice/redis"}
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: guns})
	events, err := run(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	finished := stepIDs(events, steps.StepFinished)
	if want := "preflight ca transcript-key root repo:docker.io/alice/nginx repo:docker.io/alice/redis"; strings.Join(finished, " ") != want {
		t.Fatalf("finished steps %q, want %q", finished, want)
	}

	out := cfg.OutputDir()
	ca := readCert(t, filepath.Join(out, "ca.pem"))
	root := readCert(t, filepath.Join(out, "root.crt"))
	for _, gun := range guns {
		repoPath := filepath.Join(out, steps.RepoBase(gun)+".pem")
		repo := readCert(t, repoPath)
		testenv.OpenSSL(t, "verify", "-CAfile", filepath.Join(out, "ca.pem"), repoPath)
		if repo.Subject.CommonName != gun || !keyspec.SamePublic(repo.PublicKey, root.PublicKey) {
			t.Fatalf("repo cert %s: CN %q, same key as root: false", gun, repo.Subject.CommonName)
		}
		// notary's own checks of a root certificate, and its CA pinning.
		if err := utils.ValidateCertificate(repo, true); err != nil {
			t.Fatalf("notary ValidateCertificate: %v", err)
		}
		if err := pki.VerifyCAPinning(repo, ca); err != nil {
			t.Fatal(err)
		}
		text := testenv.OpenSSL(t, "x509", "-noout", "-text", "-in", repoPath)
		if strings.Contains(text, "Extended Key Usage") || !strings.Contains(text, "CA:FALSE") || !strings.Contains(text, "Digital Signature") {
			t.Fatalf("repository profile:\n%s", text)
		}
	}
	// The fingerprint witnesses read aloud is openssl's.
	fp := testenv.OpenSSL(t, "x509", "-noout", "-fingerprint", "-sha256", "-in", filepath.Join(out, "ca.pem"))
	_, fp, _ = strings.Cut(strings.TrimSpace(fp), "=")
	for _, e := range events {
		if e.Kind != steps.StepFinished || e.StepID != "ca" {
			continue
		}
		_, shown, _ := strings.Cut(e.Result.Summary, "fingerprint ")
		if strings.ReplaceAll(shown, " ", "") != strings.ReplaceAll(fp, ":", "") {
			t.Fatalf("CA summary %q, openssl says %s", e.Result.Summary, fp)
		}
	}
	caText := testenv.OpenSSL(t, "x509", "-noout", "-text", "-in", filepath.Join(out, "ca.pem"))
	for _, want := range []string{"Issuer: CN = Docker Notary CA", "CA:TRUE", "Certificate Sign, CRL Sign", "ecdsa-with-SHA256"} {
		if !strings.Contains(caText, want) {
			t.Fatalf("CA certificate lacks %q:\n%s", want, caText)
		}
	}
	if root.Subject.CommonName != "root" || root.CheckSignature(root.SignatureAlgorithm, root.RawTBSCertificate, root.Signature) != nil {
		t.Fatalf("root certificate %s is not self-signed CN=root", root.Subject)
	}
	// root.csr is the root key's CSR, openssl agrees, and root.crt is CN=root
	// over the same public key.
	testenv.OpenSSL(t, "req", "-verify", "-noout", "-in", filepath.Join(out, "root.csr"))
	rootText := testenv.OpenSSL(t, "x509", "-noout", "-text", "-in", filepath.Join(out, "root.crt"))
	if !strings.Contains(rootText, "Subject: CN = root") || !strings.Contains(rootText, "Issuer: CN = root") || !strings.Contains(rootText, "ecdsa-with-SHA256") {
		t.Fatalf("root certificate:\n%s", rootText)
	}
	if a, b := testenv.OpenSSL(t, "req", "-noout", "-pubkey", "-in", filepath.Join(out, "root.csr")), testenv.OpenSSL(t, "x509", "-noout", "-pubkey", "-in", filepath.Join(out, "root.crt")); a != b {
		t.Fatalf("root.csr and root.crt hold different public keys:\n%s\n%s", a, b)
	}

	// The token: exactly one CA, root and transcript key pair, never extractable,
	// with their certificates, as pkcs11-tool sees it.
	objs := listToken(t, tok)
	if got := countClasses(objs); got != threePairs {
		t.Fatalf("token objects: %s", got)
	}
	tool := testenv.Tool(t, "pkcs11-tool")
	pt, err := exec.Command(tool, "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN, "--list-objects", "--type", "privkey").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(pt), "never extractable") != 3 || strings.Count(string(pt), "Private Key Object") != 3 {
		t.Fatalf("pkcs11-tool:\n%s", pt)
	}

	// The journal records every step, and a finished ceremony never runs twice.
	entries, err := transcript.Read(filepath.Join(out, transcript.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range entries {
		k := e.Kind
		if e.Step != nil {
			k += ":" + e.Step.ID
		}
		kinds = append(kinds, k)
	}
	if got := strings.Join(kinds, " "); !strings.HasPrefix(got, "header ") || !strings.HasSuffix(got, "step:repo:docker.io/alice/redis seal") ||
		strings.Count(got, "intent") != 2 {
		t.Fatalf("journal: %s", got)
	}
	// Every line, the header included, is signed by the transcript key,
	// which the CA certified as transcript.pem.
	signer := checkSignedLines(t, filepath.Join(out, transcript.FileName))
	tc := readCert(t, filepath.Join(out, steps.TranscriptCertFile))
	if !keyspec.SamePublic(tc.PublicKey, signer) || pki.VerifyCAPinning(tc, ca) != nil {
		t.Fatal("transcript.pem does not certify the key that signed the journal, or does not chain to the CA")
	}
	if _, err := os.Stat(filepath.Join(out, steps.IntentFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the transcript key's intent file outlived the header: %v", err)
	}
	if _, err := run(t, cfg); !errors.Is(err, steps.ErrFinished) {
		t.Fatalf("second run: %v", err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.ParseCertPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkSignedLines requires each line of the journal at path to carry one
// signature, by the key the header names, that verifies over the line's PAE;
// it returns that key.
func checkSignedLines(t *testing.T, path string) crypto.PublicKey {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := transcript.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := entries[0].Inputs["signer"].(map[string]any)
	pub, err := pki.ParsePublicKeyPEM([]byte(fmt.Sprint(signer["publicKey"])))
	if err != nil {
		t.Fatalf("header signer: %v", err)
	}
	id, _ := keyspec.KeyID(pub)
	if signer["keyId"] != id {
		t.Fatalf("header signer key ID %v, its public key's is %s", signer["keyId"], id)
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var env dsse.Envelope
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatal(err)
		}
		payload, _ := env.DecodeB64Payload()
		if len(env.Signatures) != 1 || env.Signatures[0].KeyID != id {
			t.Fatalf("line %d: signatures %+v, want one by %s", i+1, env.Signatures, id)
		}
		sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
		if err := transcript.VerifySignature(pub, dsse.PAE(env.PayloadType, payload), sig); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	return pub
}

func listToken(t *testing.T, tok testenv.Token) []hsm.Object {
	t.Helper()
	objs, err := tok.Session(t).Objects(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// countClasses summarises objects as "label: classes; label: classes".
func countClasses(objs []hsm.Object) string {
	var parts []string
	var cur string
	var classes []string
	flush := func() {
		if cur != "" {
			parts = append(parts, cur+": "+strings.Join(classes, " "))
		}
	}
	order := map[string]int{"private-key": 0, "public-key": 1, "certificate": 2}
	for _, o := range objs {
		if o.Label != cur {
			flush()
			cur, classes = o.Label, nil
		}
		classes = append(classes, o.Class)
	}
	flush()
	for i, p := range parts {
		label, cls, _ := strings.Cut(p, ": ")
		f := strings.Fields(cls)
		for a := 0; a < len(f); a++ {
			for b := a + 1; b < len(f); b++ {
				if order[f[b]] < order[f[a]] {
					f[a], f[b] = f[b], f[a]
				}
			}
		}
		parts[i] = label + ": " + strings.Join(f, " ")
	}
	return strings.Join(parts, "; ")
}

func TestPreflightListsEveryProblem(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	// A foreign key already holds the CA label.
	s := tok.Session(t)
	if _, err := s.GenerateKey(context.Background(), hsm.KeySpec{Label: "ca", Type: keyspec.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}})
	// The output directory exists and holds somebody's files.
	if err := os.MkdirAll(cfg.OutputDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.OutputDir(), "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, cfg)
	var pe *steps.ProblemsError
	if !errors.As(err, &pe) || len(pe.Problems) != 2 {
		t.Fatalf("preflight: %v", err)
	}
	for _, want := range []string{"holds files but no ceremony journal", "label \"ca\""} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("preflight error lacks %q: %v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.OutputDir(), transcript.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed preflight wrote a journal")
	}
}

func TestPreflightWrongPIN(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	tok.PINFile = filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(tok.PINFile, []byte("not-the-pin"), 0o600)
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}})
	_, err := run(t, cfg)
	if !errors.Is(err, hsm.ErrPINIncorrect) || strings.Contains(err.Error(), "not-the-pin") {
		t.Fatalf("wrong PIN: %v", err)
	}
	if _, err := os.Stat(cfg.OutputDir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed preflight created the output directory")
	}
	if objs := listToken(t, tok); len(objs) != 0 {
		t.Fatalf("a failed preflight made %d objects", len(objs))
	}
}

func TestResumeWithChangedConfig(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}})
	runUntil(t, cfg, "ca:after-record")
	reload := func(extra string) *config.Config {
		raw := strings.Replace(string(cfg.Raw), "output: out\n", extra+"output: out\n", 1)
		path := filepath.Join(cfg.Dir, "changed.yaml")
		os.WriteFile(path, []byte(raw), 0o600)
		c, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Changing what the finished CA step was made with is refused ...
	if _, err := run(t, reload("ca: {days: 3650}\n")); err == nil || !strings.Contains(err.Error(), "finished step ca") {
		t.Fatalf("changed CA validity: %v", err)
	}
	// ... changing what no finished step used is recorded and resumes.
	changed := reload("root: {days: 200}\n")
	if _, err := run(t, changed); err != nil {
		t.Fatalf("changed root validity before the root step: %v", err)
	}
	entries, err := transcript.Read(filepath.Join(cfg.OutputDir(), transcript.FileName))
	if err != nil {
		t.Fatal(err)
	}
	recorded := false
	for _, e := range entries {
		if e.Kind == transcript.KindResume && strings.Contains(string(e.Results), changed.Digest) && len(e.Subjects) == 1 {
			recorded = true
		}
	}
	if !recorded {
		t.Fatal("the new config is not recorded in the resume entry")
	}
	root := readCert(t, filepath.Join(cfg.OutputDir(), "root.crt"))
	if d := root.NotAfter.Sub(root.NotBefore).Hours() / 24; d != 200 {
		t.Fatalf("root certificate valid %v days, the changed config says 200", d)
	}
}

// TestResumeAfterTornJournal stops a run after the root step (as a crash
// would), leaves half a line at the end of the journal, and runs again: the
// torn tail is cut and recorded, the finished steps are not redone, and the
// token still holds one key per label.
func TestResumeAfterTornJournal(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}})
	runUntil(t, cfg, "root:after-record")
	path := filepath.Join(cfg.OutputDir(), transcript.FileName)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(`{"payloadType":"application/vnd.in-to`))
	f.Close()

	events, err := run(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	skipped, finished := stepIDs(events, steps.StepSkipped), stepIDs(events, steps.StepFinished)
	if strings.Join(skipped, " ") != "ca transcript-key root" || strings.Join(finished, " ") != "preflight repo:docker.io/a/b" {
		t.Fatalf("skipped %v, finished %v", skipped, finished)
	}
	entries, err := transcript.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	torn := false
	for _, e := range entries {
		if e.Kind == transcript.KindResume && strings.Contains(string(e.Results), "tornTail") {
			torn = true
		}
	}
	if !torn {
		t.Fatal("the torn tail is not recorded")
	}
	if got := countClasses(listToken(t, tok)); got != threePairs {
		t.Fatalf("token objects: %s", got)
	}
	checkSignedLines(t, path) // the repair is signed too
}

// TestKilledBeforeTheHeader: the transcript key is made after preflight and
// before the journal's header, which names it. A run killed in between
// leaves the key and its intent file, and the next run adopts the key
// instead of refusing its label or making a second one.
func TestKilledBeforeTheHeader(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"preflight:before-generate-transcript", "preflight:after-generate-transcript"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}})
			runUntil(t, cfg, point)
			if _, err := os.Stat(filepath.Join(cfg.OutputDir(), steps.IntentFile)); err != nil {
				t.Fatalf("no intent recorded before the key: %v", err)
			}
			if _, err := run(t, cfg); err != nil {
				t.Fatal(err)
			}
			if got := countClasses(listToken(t, tok)); got != threePairs {
				t.Fatalf("token objects: %s", got)
			}
			checkSignedLines(t, filepath.Join(cfg.OutputDir(), transcript.FileName))
		})
	}
}

// TestPreflightDryRun: certificate problems that only issuance would find
// (a CA that expires before the repository certificate, a CA subject zlint
// rejects) stop the ceremony in preflight, before any key is on the token.
func TestPreflightDryRun(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ extra, want string }{
		"repo outlives CA": {"ca: {days: 100}\n", "outlive"},
		"CA without CN":    {"ca: {subject: \"O=Acme\"}\n", "e_ca_common_name_missing"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := testenv.NewToken(t)
			cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}, Extra: tc.extra})
			preflightRefuses(t, tok, cfg, tc.want)
		})
	}
}

// TestConcurrentRunRefused: a second run of the same config while the first
// is at work stops at once, before touching the token.
func TestConcurrentRunRefused(t *testing.T) {
	t.Parallel()
	tok := testenv.NewToken(t)
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/a/b"}})
	reached, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- steps.Run(context.Background(), steps.NewPlan(cfg), steps.Options{Hook: func(p string) {
			if p == "ca:before-generate-ca" {
				close(reached)
				<-release
			}
		}})
	}()
	<-reached
	_, err := run(t, cfg)
	close(release)
	if err == nil || !strings.Contains(err.Error(), "another ceremony process is running") {
		t.Fatalf("second run: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("first run: %v", err)
	}
}

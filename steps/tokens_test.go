package steps_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/internal/testenv"
	"github.com/ceremony-dev/ceremony/steps"
	"github.com/ceremony-dev/ceremony/transcript"
)

// TestCeremonyOnTPM2 runs a whole ceremony, Notary included, on tpm2-pkcs11
// over a software TPM: a P-384 CA and an RSA-2048 root key, whose root.json
// signatures are PKCS#1 v1.5 because the token offers no RSA-PSS. The
// output passes audit.Verify, the notary CLI reads the published trust data,
// and the token's own attributes say every private key is sensitive and was
// never extractable.
func TestCeremonyOnTPM2(t *testing.T) {
	t.Parallel()
	srv := testenv.NotaryServerT(t)
	tok := testenv.NewTPM2Token(t)
	gun := "docker.io/tpm2/ceremony"
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{gun}, Notary: srv, Delegations: []testenv.Delegation{{}},
		Extra: "ca: {key: ecdsa-p384}\nroot: {key: rsa-2048}\n"})
	if _, err := run(t, cfg); err != nil {
		t.Fatal(err)
	}
	out := cfg.OutputDir()
	testenv.OpenSSL(t, "verify", "-CAfile", filepath.Join(out, "ca.pem"), filepath.Join(out, steps.RepoBase(gun)+".pem"))
	cliSeesDelegation(t, srv, cfg, gun)
	res, err := audit.VerifyOutput(context.Background(), out)
	if err != nil || !res.OK {
		t.Fatalf("audit.VerifyOutput: %v, %+v", err, res.Failure)
	}

	raw, _, err := srv.Get(context.Background(), "/v2/"+gun+"/_trust/tuf/root.json")
	if err != nil {
		t.Fatal(err)
	}
	var root struct{ Signatures []struct{ Method string } }
	if err := json.Unmarshal(raw, &root); err != nil || len(root.Signatures) == 0 {
		t.Fatalf("root.json: %v\n%s", err, raw)
	}
	for _, s := range root.Signatures {
		if s.Method != "rsapkcs1v15" {
			t.Fatalf("root.json signed with %q, want rsapkcs1v15 (the token has no RSA-PSS)", s.Method)
		}
	}

	// Preflight said so in the transcript before any key was made.
	entries, err := transcript.Read(filepath.Join(out, transcript.FileName))
	if err != nil {
		t.Fatal(err)
	}
	said := false
	for _, e := range entries {
		said = said || (e.Step != nil && e.Step.ID == string(steps.PreflightID) && strings.Contains(string(e.Results), `"rsaMetadataSignature":"rsapkcs1v15"`))
	}
	if !said {
		t.Fatal("the preflight entry does not record that RSA metadata signatures are PKCS#1 v1.5")
	}

	if got := countClasses(listToken(t, tok)); got != threePairs {
		t.Fatalf("token holds %s, want %s", got, threePairs)
	}
	for _, o := range listToken(t, tok) {
		if o.Class == "private-key" && (o.Attrs == nil || o.Attrs.Safe() != nil) {
			t.Fatalf("key %q on tpm2: %+v", o.Label, o.Attrs)
		}
	}
}

// TestPreflightTPM2Capabilities: what tpm2-pkcs11 cannot make is refused by
// preflight in one line that names the token and the fix, before any key is
// made: it reports RSA keys of 1024 to 3072 bits in C_GetMechanismInfo.
func TestPreflightTPM2Capabilities(t *testing.T) {
	t.Parallel()
	tok := testenv.NewTPM2Token(t)
	cfg := load(t, testenv.Ceremony{Token: tok, GUNs: []string{"docker.io/tpm2/big"}, Extra: "root: {key: rsa-4096}\n"})
	pe := preflightRefuses(t, tok, cfg, `token "`+tok.Label+`" makes RSA keys of 1024 to 3072 bits only`, "not rsa-4096: choose rsa-2048 or rsa-3072, or another token")
	if len(pe.Problems) != 1 || strings.Contains(pe.Problems[0].Error(), "\n") {
		t.Fatalf("want one one-line problem: %v", pe)
	}
}

package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/audit"
)

func TestPrintVerification(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ceremony := audit.Ceremony{Tool: "ceremony", Version: "1.0", Kind: "root", ConfigDigest: "sha256:ab", Operator: "Olivia", Started: at, Sealed: at.Add(time.Hour),
		Token: audit.Token{Label: "prod", Manufacturer: "Yubico", Model: "YubiHSM", Serial: "42"},
		Events: []audit.Event{
			{Line: 1, Kind: "header"},
			{Line: 4, Kind: "failure", StepID: "notary-init:g", Attempt: 1, Error: "server unreachable"},
			{Line: 5, Kind: "step", StepID: "notary-init:g", Attempt: 2, Summary: "published root.json v1"},
			{Line: 6, Kind: "seal"},
		},
		Keys:         []audit.Key{{Label: "root", Type: "ecdsa-p256", CKAID: "0a", SPKISHA256: "cd", Adopted: true}},
		Certificates: []audit.Certificate{{File: "ca.pem", Subject: "CN=CA", SHA256: "ef", Fingerprint: "EF01 2345"}},
		Declared:     []audit.DeclaredWitness{{Name: "Alice", KeyID: "sha256:aa"}, {Name: "Bob", KeyID: "sha256:bb"}},
		Signer:       audit.Signer{Label: "transcript", KeyID: "sha256:cc", Certificate: "ef"},
	}
	witness := audit.Witness{Name: "Alice", Role: "auditor", KeyID: "sha256:aa", Statement: "all fine", Time: at, Line: 7, Declared: true}
	tests := []struct {
		name  string
		res   audit.Result
		wants []string
	}{
		{"verified", audit.Result{Transcript: "t.jsonl", OK: true, Ceremony: ceremony, Witnesses: []audit.Witness{witness},
			Checks: []audit.Check{{Name: "transcript", OK: true, Detail: "6 lines"}}}, []string{
			"Transcript t.jsonl", "operator Olivia", `Token "prod"  Yubico YubiHSM  serial 42`, "certificate SHA-256 EF01 2345",
			"line 4  notary-init:g  FAILED: server unreachable", "line 5  notary-init:g  done (attempt 2): published root.json v1",
			"line 6  -", "sealed", "(found on the token, made earlier)", "ca.pem  CN=CA  EF01 2345",
			"Witnesses (2 declared, 1 signed)", `Alice  auditor  declared  signed 2026-11-24T10:00:00Z (line 7)  "all fine"`,
			"ok  transcript  6 lines", "VERIFIED: every check holds"}},
		{"failed on a line", audit.Result{Transcript: "t.jsonl", Ceremony: ceremony,
			Checks:  []audit.Check{{Name: "transcript", OK: true}, {Name: "ca", Detail: "verifying against another CA"}},
			Failure: &audit.Failure{Check: "ca", Line: 3, Message: "verifying against another CA"}}, []string{
			"FAILED  ca ", "none signed", "NOT VERIFIED: line 3: verifying against another CA (check: ca)"}},
		{"unreadable transcript", audit.Result{Transcript: "t.jsonl", Checks: []audit.Check{{Name: "transcript", Detail: "not sealed"}},
			Failure: &audit.Failure{Check: "transcript", Message: "not sealed"}}, []string{
			"Transcript t.jsonl\n\nChecks", "NOT VERIFIED: not sealed (check: transcript)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := PrintVerification(&b, &tc.res); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wants {
				if !strings.Contains(b.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, b.String())
				}
			}
		})
	}
}

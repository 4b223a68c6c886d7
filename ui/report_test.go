package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/audit"
	"golang.org/x/net/html"
)

var reportDay = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

func at(min int) time.Time { return reportDay.Add(time.Duration(min) * time.Minute) }

const (
	caSHA     = "e58294f2e9a227486e8b061b31cc528fd7fa3f19e58294f2e9a227486e8b061b"
	rootKey   = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	aliceID   = "aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44"
	bobID     = "bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55"
	malloryID = "cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66"
)

// cleanResult is a ceremony that followed its plan, verified and signed by
// both declared witnesses.
func cleanResult() *audit.Result {
	yes := true
	safe := map[string]bool{"token": true, "private": true, "sensitive": true, "alwaysSensitive": true, "neverExtractable": true, "local": true}
	step := func(line int, id, title string, min int) audit.Event {
		return audit.Event{Line: line, Kind: "step", StepID: id, Title: title, Attempt: 1, Started: at(min), Finished: at(min + 1), Summary: title + " done"}
	}
	return &audit.Result{
		Transcript: "out/transcript.intoto.jsonl",
		OK:         true,
		Checks: []audit.Check{
			{Name: "lines", OK: true, Detail: "12 entries, each a DSSE envelope"},
			{Name: "chain", OK: true, Detail: "every prev is the hash of the line before"},
			{Name: "signatures", OK: true, Detail: "12 signatures by the transcript key"},
		},
		Ceremony: audit.Ceremony{
			Tool: "ceremony", Version: "v1.2.0", Kind: "root", ConfigDigest: "sha256:" + caSHA, Operator: "Olga Operator",
			Started: at(0), Sealed: at(30),
			Token:  audit.Token{Label: "ceremony", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: "2d52b9ed080717dd", Firmware: "2.6", Flags: []string{"rng", "login-required"}},
			Module: audit.Module{Path: "/usr/lib/softhsm/libsofthsm2.so", SHA256: rootKey, Library: "SoftHSM 2.6"},
			Clock:  audit.Clock{Source: "NTP (systemd-timesyncd)", Synchronised: &yes},
			Signer: audit.Signer{KeyID: rootKey, Label: "transcript", CKAID: "0c0d", Type: "ecdsa-p256", Certificate: caSHA},
			Plan: []audit.PlannedStep{{ID: "preflight", Title: "Preflight"}, {ID: "ca", Title: "Create the CA"},
				{ID: "root", Title: "Create the root key"}, {ID: "repo:docker.io/acme/app", Title: "Repository certificate for docker.io/acme/app"}},
			Events: []audit.Event{
				{Line: 1, Kind: "header", Started: at(0)},
				step(2, "preflight", "Preflight", 1),
				{Line: 3, Kind: "intent", StepID: "ca", Title: "Create the CA", Summary: "key \"ca\""},
				step(4, "ca", "Create the CA", 2),
				{Line: 5, Kind: "intent", StepID: "root", Title: "Create the root key", Summary: "key \"root\""},
				step(6, "root", "Create the root key", 4),
				step(7, "repo:docker.io/acme/app", "Repository certificate for docker.io/acme/app", 6),
				{Line: 8, Kind: "seal", Finished: at(30)},
			},
			Keys: []audit.Key{
				// Preflight makes the transcript key before the header; its step finds it.
				{StepID: "transcript-key", Label: "transcript", Type: "ecdsa-p256", CKAID: "0c0d", SPKISHA256: caSHA, Attributes: safe, Adopted: true},
				{StepID: "root", Label: "root", Type: "ecdsa-p256", CKAID: "0a0b", SPKISHA256: rootKey, Attributes: safe},
			},
			Certificates: []audit.Certificate{
				{File: "ca.pem", Subject: "CN=Acme Root CA", Issuer: "CN=Acme Root CA", Serial: "01", NotBefore: at(2), NotAfter: at(2).AddDate(10, 0, 0), SHA256: caSHA, ChainsToCA: true},
				{File: "root.crt", Subject: "CN=root", Issuer: "CN=root", Serial: "02", NotBefore: at(4), NotAfter: at(4).AddDate(10, 0, 0), SHA256: rootKey},
			},
			Repositories: []audit.Repository{{GUN: "docker.io/acme/app", RootVersion: 1, RootKeyID: rootKey, RootJSONValid: true}},
			Declared:     []audit.DeclaredWitness{{Name: "Alice", Role: "internal witness", KeyID: aliceID}, {Name: "Bob", Role: "auditor", KeyID: bobID}},
		},
		Witnesses: []audit.Witness{
			{Name: "Alice", Role: "internal witness", KeyID: aliceID, Statement: "The ceremony followed the script.", Time: at(40), Line: 9, Declared: true},
			{Name: "Bob", Role: "auditor", KeyID: bobID, Statement: "I witnessed it.", Time: at(45), Line: 10, Declared: true},
		},
	}
}

// troubledResult: the root step is interrupted, the ceremony resumed, the
// step fails once and is retried, the operator records a deviation, one
// witness has not signed and an undeclared key has.
func troubledResult() *audit.Result {
	r := cleanResult()
	c := &r.Ceremony
	c.Events = []audit.Event{
		c.Events[0], c.Events[1], c.Events[2], c.Events[3],
		{Line: 5, Kind: "intent", StepID: "root", Title: "Create the root key", Summary: "key \"root\""},
		{Line: 6, Kind: "resume", Started: at(10), Summary: "3 finished steps, 1 stale temporary file removed"},
		// Preflight checks everything again in every run: not a retry.
		{Line: 7, Kind: "step", StepID: "preflight", Title: "Preflight", Attempt: 2, Started: at(10), Finished: at(11)},
		{Line: 8, Kind: "failure", StepID: "root", Title: "Create the root key", Attempt: 1, Started: at(11), Finished: at(12), Error: "C_Sign: CKR_DEVICE_ERROR"},
		{Line: 9, Kind: "step", StepID: "root", Title: "Create the root key", Attempt: 2, Started: at(13), Finished: at(14)},
		{Line: 10, Kind: "deviation", Started: at(15), Summary: "Bob left the room from 09:15 to 09:20; Alice kept the token in view."},
		{Line: 11, Kind: "step", StepID: "repo:docker.io/acme/app", Title: "Repository certificate for docker.io/acme/app", Attempt: 1, Started: at(16), Finished: at(17)},
		{Line: 12, Kind: "seal", Finished: at(30)},
	}
	c.Keys[1].Adopted = true
	r.Witnesses = []audit.Witness{
		r.Witnesses[0],
		{Name: "Mallory", Role: "visitor", KeyID: malloryID, Statement: "I was there too.", Time: at(50), Line: 14},
	}
	return r
}

// failedResult: verification failed on a signature; the transcript stops
// after a failed step, unsealed; its strings try to inject markup.
func failedResult() *audit.Result {
	r := cleanResult()
	r.OK = false
	r.Failure = &audit.Failure{Check: "signatures", Line: 3, Message: "signature does not verify with the transcript key"}
	r.Checks = []audit.Check{
		{Name: "lines", OK: true, Detail: "4 entries"},
		{Name: "signatures", OK: false, Detail: "line 3: signature does not verify"},
	}
	c := &r.Ceremony
	c.Sealed = time.Time{}
	c.Operator = "<script>alert(1)</script> | *Eve*"
	c.Events = []audit.Event{
		c.Events[0], c.Events[1],
		{Line: 3, Kind: "failure", StepID: "ca", Title: "Create the CA", Attempt: 1, Started: at(2), Finished: at(3), Error: "token removed"},
	}
	c.Keys, c.Certificates, c.Repositories = nil, nil, nil
	r.Witnesses = nil
	return r
}

// unreadResult: verification stopped at the transcript itself, before
// anything about the ceremony could be read.
func unreadResult() *audit.Result {
	return &audit.Result{Transcript: "copy.jsonl", Failure: &audit.Failure{Check: "transcript", Line: 9, Message: "torn last line"},
		Checks: []audit.Check{{Name: "transcript", Detail: "line 9: torn last line"}}}
}

func TestWriteReport(t *testing.T) {
	tests := []struct {
		name string
		r    *audit.Result
		md   []string // lines or fragments a reader finds in the Markdown
		html []string // text a reader finds on the page
		lack []string // in neither
	}{
		{"clean", cleanResult(), []string{
			"> **✓ Verification passed: all 3 checks hold.**",
			"No exceptions: every planned step was done on its first attempt, without interruption or deviation.",
			"| 2 | Create the root key (`root`) | done | 1 | 09:04:00 | 09:05:00 |",
			"- **Config SHA-256:** `E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19 E582 94F2 E9A2 2748 6E8B 061B`",
			"  - read aloud: *topmost Istanbul · Pluto vagabond · treadmill Pacific · brackish dictator · goldfish Medusa · afflict bravado · chatter revolver · Dupont midsummer · stopwatch whimsical · cowbell bottomless · topmost Istanbul",
			"- **Token attributes:** sensitive, always sensitive, never extractable, generated on the token (local)",
			"- **Chains to the CA:** self-signed",
			"- **Generated:** at preflight, before the header, so that it signs the transcript from its first line",
			"- **Offline check:** passed: notary's client check, with the CA pinned, accepts the recorded root.json",
			"| Alice | internal witness | `AA11 BB22",
			"signed 2026-03-14 09:40:00 UTC (line 9) |",
			"   > The ceremony followed the script.",
			"| 3 | signatures | pass | 12 signatures by the transcript key |",
			"- **Sealed:** 2026-03-14 09:30:00 UTC",
			"- **Clock:** NTP (systemd-timesyncd), synchronised",
		}, []string{
			"✓ Verification passed: all 3 checks hold.",
			"Create the root key root done 1 09:04:00 09:05:00",
			// Each group of digits with its two words.
			"Config SHA-256 E582 topmost Istanbul 94F2 Pluto vagabond E9A2 treadmill Pacific",
			"None: the ceremony followed the plan.",
		}, []string{"⚠", "✗", "FAIL"}},
		{"failure, retry, resume, deviation", troubledResult(), []string{
			"**⚠ 5 exceptions: 1 interruption, 1 resume, 1 failure, 1 retry, 1 deviation.** See section 3.",
			"| 2 | Create the root key (`root`) | **⚠ failed, then retried: done on attempt 2** — attempt 1 failed (line 8): C_Sign: CKR_DEVICE_ERROR; interrupted in run 1 | 2 | 09:11:00 | 09:14:00 |",
			"| 0 | Preflight (`preflight`) | done — again in run 2 | 2 | 09:01:00 | 09:11:00 |",
			"| 1 | Create the CA (`ca`) | done — skipped as already done when the ceremony resumed (run 2) | 1 |",
			"1. **⚠ Interruption** (line 5, step *Create the root key*): run 1 was interrupted here: after “key \"root\"” it recorded nothing more for the step",
			"2. **⚠ Resume** (line 6, 2026-03-14 09:10:00 UTC): run 2 begins: 3 finished steps, 1 stale temporary file removed",
			"3. **⚠ Failure** (line 8, 2026-03-14 09:12:00 UTC, step *Create the root key*): attempt 1 failed: C_Sign: CKR_DEVICE_ERROR",
			"4. **⚠ Retry** (line 9, 2026-03-14 09:14:00 UTC, step *Create the root key*): done on attempt 2",
			"5. **⚠ Deviation** (line 10, 2026-03-14 09:15:00 UTC): Bob left the room from 09:15 to 09:20; Alice kept the token in view.",
			"### ⚠ Key \"root\" (ecdsa-p256)",
			"- **Adopted:** **⚠ found on the token after an interruption, not generated in the run that recorded it**",
			"| Bob | auditor | `BB22 CC33",
			"| **⚠ has not signed** |",
			"   **⚠ Not a key the header declared: listed, not counted.**",
		}, []string{
			"⚠ 5 exceptions: 1 interruption, 1 resume, 1 failure, 1 retry, 1 deviation.",
			"⚠ failed, then retried: done on attempt 2 attempt 1 failed (line 8): C_Sign: CKR_DEVICE_ERROR interrupted in run 1",
			"⚠ Deviation · line 10 · 2026-03-14 09:15:00 UTC Bob left the room",
			"⚠ Retry · line 9 · 2026-03-14 09:14:00 UTC · step “Create the root key”",
			"⚠ has not signed",
			"⚠ Not a key the header declared: listed, not counted.",
		}, []string{"✗", "VERIFICATION FAILED"}},
		{"failed verification", failedResult(), []string{
			"> **✗ VERIFICATION FAILED: do not rely on this record.**",
			"> **First failure:** line 3: signature does not verify with the transcript key (check: signatures)",
			"> Everything below is what the transcript claims; with verification failed, none of it is established.",
			"| 1 | Create the CA (`ca`) | **⚠ FAILED, not done (1 attempt)** — attempt 1 failed (line 3): token removed | 1 | 09:02:00 |  |",
			"| 2 | Create the root key (`root`) | **⚠ not reached** | 0 |  |  |",
			"- **Sealed:** **⚠ NOT SEALED: the ceremony did not finish**",
			"**⚠ Not sealed**: the transcript has no seal: the ceremony did not finish",
			"| 2 | signatures | **✗ FAIL (the first failure)** | line 3: signature does not verify |",
			`- **Operator:** \<script\>alert(1)\</script\> | \*Eve\*`,
			"No witness has signed the transcript.",
		}, []string{
			"✗ VERIFICATION FAILED: do not rely on this record.",
			"First failure: line 3: signature does not verify with the transcript key (check: signatures)",
			"⚠ FAILED, not done (1 attempt)",
			"⚠ not reached",
			"✗ FAIL (the first failure)",
			"Operator <script>alert(1)</script> | *Eve*",
		}, []string{"Verification passed"}},
		{"unreadable transcript", unreadResult(), []string{
			"Transcript `copy.jsonl` · times in UTC",
			"> **First failure:** line 9: torn last line (check: transcript)",
			"> The transcript could not be read far enough to tell what the ceremony did: sections 1 to 7 are left out.",
			"| 1 | transcript | **✗ FAIL (the first failure)** | line 9: torn last line |",
		}, []string{
			"✗ VERIFICATION FAILED: do not rely on this record.",
			"sections 1 to 7 are left out",
			"✗ FAIL (the first failure)",
		}, []string{"The ceremony", "not reached", "NOT SEALED", "exception", "ceremony ·"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			md := render(t, tc.r, "md")
			for _, w := range tc.md {
				if !strings.Contains(md, w) {
					t.Errorf("Markdown lacks %q:\n%s", w, md)
				}
			}
			page := render(t, tc.r, "html")
			doc, err := html.Parse(strings.NewReader(page))
			if err != nil {
				t.Fatal(err)
			}
			text := visibleText(doc)
			for _, w := range tc.html {
				if !strings.Contains(text, w) {
					t.Errorf("HTML text lacks %q:\n%s", w, text)
				}
			}
			for _, l := range tc.lack {
				if strings.Contains(md, l) || strings.Contains(text, l) {
					t.Errorf("report holds %q", l)
				}
			}
			if strings.Contains(strings.ToLower(page), "<script") {
				t.Error("the page source holds <script")
			}
			selfContained(t, doc)
			markedInWords(t, doc)
		})
	}
}

func TestWriteReportFormat(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReport(&b, cleanResult(), "pdf"); err == nil || !strings.Contains(err.Error(), "use one of md, html") {
		t.Fatalf("format pdf: %v", err)
	}
}

func render(t *testing.T, r *audit.Result, format string) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteReport(&b, r, format); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// visibleText is the page's text as a reader sees it, whitespace collapsed.
func visibleText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "style" || n.Data == "title" || n.Data == "head") {
			return
		}
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		if n.Type == html.ElementNode && n.Data != "span" && n.Data != "b" {
			b.WriteString(" ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && n.Data != "span" && n.Data != "b" {
			b.WriteString(" ")
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// selfContained: nothing on the page is fetched, nothing runs.
func selfContained(t *testing.T, doc *html.Node) {
	t.Helper()
	eachElement(doc, func(n *html.Node) {
		switch n.Data {
		case "script", "link", "img", "iframe", "object", "embed":
			t.Errorf("page has a <%s>", n.Data)
		case "style":
			if css := n.FirstChild.Data; strings.Contains(css, "url(") || strings.Contains(css, "@import") {
				t.Error("style sheet fetches something")
			}
		}
		for _, a := range n.Attr {
			if a.Key == "src" || a.Key == "href" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has %s=%q", n.Data, a.Key, a.Val)
			}
		}
	})
}

// markedInWords: everything highlighted says so in its text (⚠ or ✗), not
// by its colour or border alone.
func markedInWords(t *testing.T, doc *html.Node) {
	t.Helper()
	eachElement(doc, func(n *html.Node) {
		for _, a := range n.Attr {
			if a.Key != "class" || !(strings.Contains(a.Val, "warn") || strings.Contains(a.Val, "fail")) {
				continue
			}
			if text := visibleText(n); !strings.ContainsAny(text, "⚠✗") {
				t.Errorf("<%s class=%q> is highlighted without a mark: %q", n.Data, a.Val, text)
			}
		}
	})
}

func eachElement(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		eachElement(c, f)
	}
}

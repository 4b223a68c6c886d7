package ui

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// reportMarkdown writes the report as CommonMark with GitHub tables. Every
// string from the transcript goes through mdText or mdCode: a witness's
// statement cannot open a link, a table cell or raw HTML.
func reportMarkdown(w io.Writer, v reportView) error {
	var b strings.Builder
	mdTop(&b, v)
	if !v.Unread {
		mdCeremony(&b, v)
	}
	mdChecks(&b, v.Checks)
	b.WriteString("## Sign-off\n\n| Name | Role | Signature | Date and time |\n|---|---|---|---|\n" +
		strings.Repeat("| | | | |\n", 3))
	_, err := io.WriteString(w, b.String())
	return err
}

func mdCeremony(b *strings.Builder, v reportView) {
	b.WriteString("## 1. The ceremony\n\n")
	for _, blk := range v.Header {
		mdBlock(b, blk)
	}
	mdSteps(b, v.Steps)
	mdExceptions(b, v.Exceptions)
	mdBlocks(b, "4. Keys made in the token", v.Keys)
	mdBlocks(b, "5. Certificates", v.Certs)
	mdBlocks(b, "6. Repositories published", v.Repos)
	mdWitnesses(b, v)
}

func mdTop(b *strings.Builder, v reportView) {
	kind := ""
	if v.Kind != "" {
		kind = " · ceremony " + mdCode(v.Kind)
	}
	fmt.Fprintf(b, "# Key ceremony report\n\nTranscript %s%s · times in UTC\n\n", mdCode(v.Transcript), kind)
	if v.Training {
		fmt.Fprintf(b, "> **⚠ %s**\n\n", mdText(TrainingLine))
	}
	if v.Verdict.OK {
		fmt.Fprintf(b, "> **✓ %s**\n\n", v.Verdict.Headline)
	} else {
		fmt.Fprintf(b, "> **✗ %s**\n>\n> **First failure:** %s\n>\n> %s\n\n",
			v.Verdict.Headline, mdText(orElse(v.Verdict.First, "not reported")), v.Verdict.Caveat)
	}
	switch {
	case v.Unread:
	case len(v.Exceptions) > 0:
		fmt.Fprintf(b, "**%s** See section 3.\n\n", mdText(v.Tally))
	default:
		fmt.Fprintf(b, "%s\n\n", v.Tally)
	}
}

func mdBlocks(b *strings.Builder, title string, blocks []factBlock) {
	fmt.Fprintf(b, "## %s\n\n", title)
	if len(blocks) == 0 {
		b.WriteString("None recorded.\n\n")
	}
	for _, blk := range blocks {
		mdBlock(b, blk)
	}
}

func mdBlock(b *strings.Builder, blk factBlock) {
	title := mdText(blk.Title)
	if blk.Warn {
		title = "⚠ " + title
	}
	fmt.Fprintf(b, "### %s\n\n", title)
	for _, f := range blk.Facts {
		fmt.Fprintf(b, "- **%s:** %s\n", f.Label, mdValue(f))
		if len(f.Pairs) > 0 {
			fmt.Fprintf(b, "  - read aloud: *%s*\n", spoken(f.Pairs))
		}
	}
	b.WriteString("\n")
}

func mdValue(f reportFact) string {
	v := mdText(f.Value)
	if f.Mono {
		v = mdCode(f.Value)
	}
	if f.Warn {
		v = "**" + v + "**"
	}
	return v
}

func mdSteps(b *strings.Builder, rows []stepRow) {
	b.WriteString("## 2. The plan against what happened\n\n")
	b.WriteString("| # | Step | Outcome | Attempts | Started | Finished |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		out := mdText(r.Outcome)
		if r.Warn {
			out = "**" + out + "**"
		}
		if len(r.Notes) > 0 {
			out += " — " + mdText(strings.Join(r.Notes, "; "))
		}
		fmt.Fprintf(b, "| %d | %s (%s) | %s | %d | %s | %s |\n",
			r.N, mdCell(mdText(r.Title)), mdCell(mdCode(r.ID)), mdCell(out), r.Attempts, r.Started, r.Finished)
	}
	b.WriteString("\n")
}

func mdExceptions(b *strings.Builder, excs []exceptionRow) {
	b.WriteString("## 3. Exceptions\n\n")
	if len(excs) == 0 {
		b.WriteString("None: the ceremony followed the plan.\n\n")
		return
	}
	for i, x := range excs {
		fmt.Fprintf(b, "%d. **⚠ %s**%s: %s\n", i+1, x.Kind, mdWhere(x), mdText(x.Text))
	}
	b.WriteString("\n")
}

func mdWhere(x exceptionRow) string {
	var where []string
	if x.Line > 0 {
		where = append(where, fmt.Sprintf("line %d", x.Line))
	}
	if x.Time != "" {
		where = append(where, x.Time)
	}
	if x.Step != "" {
		where = append(where, "step *"+mdText(x.Step)+"*")
	}
	if len(where) == 0 {
		return ""
	}
	return " (" + strings.Join(where, ", ") + ")"
}

func mdWitnesses(b *strings.Builder, v reportView) {
	b.WriteString("## 7. Witnesses\n\n")
	if len(v.Declared) > 0 {
		b.WriteString("| Declared witness | Role | Key ID | Signature |\n|---|---|---|---|\n")
		for _, d := range v.Declared {
			signed := mdText(d.Signed)
			if d.Warn {
				signed = "**" + signed + "**"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", mdCell(mdText(d.Name)), mdCell(mdText(d.Role)), mdCell(mdCode(d.KeyID)), mdCell(signed))
		}
		b.WriteString("\n")
	}
	if len(v.Signed) == 0 {
		b.WriteString("No witness has signed the transcript.\n\n")
		return
	}
	b.WriteString("Signatures after the seal:\n\n")
	for i, s := range v.Signed {
		fmt.Fprintf(b, "%d. **%s**, line %d, %s, key %s:\n   > %s\n", i+1, mdText(nameWithRole(s.Name, s.Role)), s.Line, s.Time, mdCode(s.KeyID), mdText(s.Statement))
		if !s.Declared {
			b.WriteString("\n   **⚠ Not a key the header declared: listed, not counted.**\n")
		}
	}
	b.WriteString("\n")
}

func mdChecks(b *strings.Builder, checks []checkRow) {
	b.WriteString("## 8. Verification\n\n| # | Check | Result | Detail |\n|---|---|---|---|\n")
	for _, c := range checks {
		fmt.Fprintf(b, "| %d | %s | %s | %s |\n", c.N, mdCell(mdText(c.Name)), checkWords(c), mdCell(mdText(c.Detail)))
	}
	b.WriteString("\n")
}

// checkWords is a check's result in words, the failures in bold.
func checkWords(c checkRow) string {
	switch {
	case c.OK:
		return "pass"
	case c.First:
		return "**✗ FAIL (the first failure)**"
	}
	return "**✗ FAIL**"
}

// mdText escapes what CommonMark would read as markup. An underscore
// inside a word stays as it is (CKR_PIN_INCORRECT cannot open emphasis);
// a line break becomes a space, as it would end a table row or list item.
func mdText(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		switch {
		case c == '\n' || c == '\r':
			b.WriteRune(' ')
			continue
		case strings.ContainsRune("\\`*[]<>&~#", c):
			b.WriteRune('\\')
		case c == '_' && !(i > 0 && i+1 < len(r) && mdWordRune(r[i-1]) && mdWordRune(r[i+1])):
			b.WriteRune('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func mdWordRune(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }

// mdCode sets s as a code span, fenced with more backticks than it holds.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if longest > 0 {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// mdCell escapes the pipes that would split a table cell; GitHub's tables
// take "\|" even inside a code span.
func mdCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

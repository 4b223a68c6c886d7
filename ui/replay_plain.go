package ui

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/ceremony-dev/ceremony/audit"
)

// PrintReplay is `ceremony replay --plain`: what the replay shows, item by
// item, as lines of plain text with no full-screen program and no colour,
// for a screen reader, a pipe or a printer. caPath is the CA the Result was
// verified against, "" when it was only read.
func PrintReplay(w io.Writer, r *audit.Result, caPath string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "ceremony replay · %s · read-only\n", r.Transcript)
	for _, b := range replayBanners(r, caPath) {
		fmt.Fprintln(bw, b.text)
	}
	items := replayItems(r)
	for i, it := range items {
		num := ""
		if it.n >= 0 {
			num = fmt.Sprintf("step %d · ", it.n)
		}
		fmt.Fprintf(bw, "\n== %d/%d · %s%s %s · %s\n", i+1, len(items), num, it.state.glyph, it.state.word, it.title)
		lines := replayDetail(r, items, i, 0, rpPlainPaint)
		for _, l := range lines[1:] { // the title is in the == line
			fmt.Fprintln(bw, strings.TrimRight(l, " "))
		}
	}
	return bw.Flush()
}

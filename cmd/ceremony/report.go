package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/internal/newfile"
	"github.com/ceremony-dev/ceremony/ui"
	"github.com/spf13/cobra"
)

func newReportCmd() *cobra.Command {
	var caPath, artifacts, format, out string
	var require int
	cmd := &cobra.Command{
		Use:   "report TRANSCRIPT --ca ca.pem",
		Short: "Write the ceremony's record for the audit binder, from its transcript verified offline",
		Long: "Verify the transcript as `ceremony verify` does, then write the record: the ceremony, the plan against what\n" +
			"happened (failures, retries, resumes and deviations marked), keys and certificates with fingerprints in groups\n" +
			"of four hex digits and in PGP words, repositories, witnesses, and every check. The report is written when\n" +
			"verification fails too, saying so first; the exit status is then 1. -o writes a new file, never over one.",
		Args: fileArgs("report", 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format = reportFormat(format, out)
			if !slices.Contains(ui.ReportFormats, format) {
				return &exitError{code: 2, err: fmt.Errorf("--format %q: use one of %s", format, strings.Join(ui.ReportFormats, ", "))}
			}
			opts, err := verifyOptions(caPath, artifacts, require)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			res, err := audit.Verify(cmd.Context(), args[0], opts)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := writeReport(cmd, res, format, out); err != nil {
				return err
			}
			if !res.OK {
				return fmt.Errorf("%s does not verify, as the report says: %s", args[0], ui.FailureLine(res.Failure))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&caPath, "ca", "", "the ceremony CA certificate (PEM) you trust: the only trust anchor (required)")
	cmd.Flags().StringVar(&format, "format", "", "md or html (default: html when -o ends in .html, else md)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the report to this new file instead of stdout")
	cmd.Flags().StringVar(&artifacts, "artifacts", "", "the ceremony's output directory: compare its files with the transcript")
	cmd.Flags().IntVar(&require, "require-witnesses", 0, "fail unless at least N distinct declared witnesses signed")
	return cmd
}

// reportFormat is the format asked for, or the one -o's name implies, so
// that "-o report.html" is not a Markdown file.
func reportFormat(format, out string) string {
	switch {
	case format != "":
		return format
	case strings.HasSuffix(out, ".html") || strings.HasSuffix(out, ".htm"):
		return "html"
	}
	return "md"
}

// writeReport renders the whole report before writing any of it: a file
// is whole or absent, and an existing one is never replaced.
func writeReport(cmd *cobra.Command, res *audit.Result, format, out string) error {
	var b bytes.Buffer
	if err := ui.WriteReport(&b, res, format); err != nil {
		return err
	}
	if out == "" {
		_, err := cmd.OutOrStdout().Write(b.Bytes())
		return err
	}
	return newfile.Write(out, b.Bytes(), 0o644, nil)
}

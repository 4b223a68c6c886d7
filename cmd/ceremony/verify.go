package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/ceremony-dev/ceremony/audit"
	"github.com/ceremony-dev/ceremony/internal/infile"
	"github.com/ceremony-dev/ceremony/pki"
	"github.com/ceremony-dev/ceremony/ui"
	"github.com/spf13/cobra"
)

func newVerifyCmd() *cobra.Command {
	var caPath, artifacts string
	var require int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify TRANSCRIPT --ca ca.pem",
		Short: "Check a ceremony's transcript offline, with the CA certificate as the only trust anchor",
		Long: "Check every line's signature and chain, the seal, the transcript key's certificate, every recorded\n" +
			"certificate and CSR, notary's own check of each root.json, with --artifacts the files on disk, and the\n" +
			"witness signatures. Exit 0 when everything holds, 1 when something does not (one line on stderr says\n" +
			"which line and why), 2 for a usage error.",
		Args: fileArgs("verify", 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := verifyOptions(caPath, artifacts, require)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			res, err := audit.Verify(cmd.Context(), args[0], opts)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := printResult(cmd, res, asJSON); err != nil {
				return err
			}
			if !res.OK {
				return fmt.Errorf("%s does not verify: %s", args[0], ui.FailureLine(res.Failure))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&caPath, "ca", "", "the ceremony CA certificate (PEM) you trust: the only trust anchor (required)")
	cmd.Flags().StringVar(&artifacts, "artifacts", "", "the ceremony's output directory: compare its files with the transcript")
	cmd.Flags().IntVar(&require, "require-witnesses", 0, "fail unless at least N distinct declared witnesses signed")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON document")
	return cmd
}

func verifyOptions(caPath, artifacts string, require int) (audit.Options, error) {
	switch {
	case caPath == "":
		return audit.Options{}, fmt.Errorf("--ca is required: the CA certificate is the only trust anchor")
	case require < 0:
		return audit.Options{}, fmt.Errorf("--require-witnesses %d: give a count of witnesses", require)
	}
	b, err := infile.Read(caPath, maxInput)
	if err != nil {
		return audit.Options{}, fmt.Errorf("--ca: %w", err)
	}
	ca, err := pki.ParseCertPEM(b)
	if err != nil {
		return audit.Options{}, fmt.Errorf("--ca %s: %w", caPath, err)
	}
	if artifacts != "" {
		if st, err := os.Stat(artifacts); err != nil || !st.IsDir() {
			return audit.Options{}, fmt.Errorf("--artifacts %s: not a directory", artifacts)
		}
	}
	return audit.Options{CA: ca, ArtifactsDir: artifacts, RequireWitnesses: require}, nil
}

func printResult(cmd *cobra.Command, res *audit.Result, asJSON bool) error {
	if !asJSON {
		return ui.PrintVerification(cmd.OutOrStdout(), res)
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

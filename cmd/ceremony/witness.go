package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ceremony-dev/ceremony/internal/newfile"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/transcript"
	"github.com/ceremony-dev/ceremony/trust"
	"github.com/spf13/cobra"
)

func newWitnessCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "witness",
		Short: "Witnesses: sign a sealed transcript, merge copies signed apart",
	}
	cmd.AddCommand(newWitnessSignCmd(), newWitnessMergeCmd())
	return cmd
}

func newWitnessSignCmd() *cobra.Command {
	var key, name, role, statement, keyPass, pin string
	cmd := &cobra.Command{
		Use:   "sign TRANSCRIPT --key KEY",
		Short: "Sign a sealed transcript as a witness: one line appended after the seal",
		Long: "Verify TRANSCRIPT (every line, the seal, earlier witnesses), then append one line signed with the\n" +
			"witness's own key over the seal line's digest: name, role, time and the witness's statement.\n" +
			"--key is a PEM private key file (PKCS#8, EC or RSA, encrypted or not) or a pkcs11: URI.\n" +
			"--name and --role default to what the transcript's header declares for the key.",
		Args: fileArgs("witness sign", 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSecretSources(keyPass, pin); err != nil {
				return &exitError{code: 2, err: err}
			}
			ctx, path := cmd.Context(), args[0]
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			// Before the key: nobody types a PIN for a transcript that does not verify.
			v, err := transcript.Verify(data)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			dk, closeKey, err := trust.OpenDelegateKey(ctx, key, keyPass, pin, secret.Terminal{})
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			defer closeKey()
			priv, err := dk.Signer(ctx)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			signer, err := transcript.NewSigner(priv, nil)
			if err != nil {
				return fmt.Errorf("--key: %w", err)
			}
			line, err := transcript.SignWitness(ctx, data, signer, priv.Public(), transcript.WitnessInfo{Name: name, Role: role, Statement: statement}, time.Now())
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			w, err := transcript.AppendWitness(path, line)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "witness %s signed %s with key %s over seal sha256:%s (line %d)%s\n",
				describe(w), path, w.KeyID, v.SealSHA256, w.Line, undeclared(v, w.KeyID))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&key, "key", "", "the witness's key: PEM private key file or pkcs11: URI")
	f.StringVar(&name, "name", "", "the witness's name (default: the header's declaration for the key)")
	f.StringVar(&role, "role", "", "the witness's role (default: the header's declaration for the key)")
	f.StringVar(&statement, "statement", "", `the witness's own words, e.g. "the script was followed; exceptions: none"`)
	f.StringVar(&keyPass, "key-passphrase", "prompt", "passphrase of an encrypted key file: env:NAME, file:PATH or prompt")
	f.StringVar(&pin, "pin", "", "PIN for a pkcs11: key (default: the URI's pin-source, else prompt)")
	cmd.MarkFlagRequired("key")
	return cmd
}

// checkSecretSources refuses a secret source spelling before any file or
// token is touched; it reads nothing.
func checkSecretSources(keyPass, pin string) error {
	if _, err := secret.Parse(keyPass); err != nil {
		return fmt.Errorf("--key-passphrase: %w", err)
	}
	if pin == "" {
		return nil // the pkcs11: URI's pin-source, checked when the URI is read
	}
	if _, err := secret.Parse(pin); err != nil {
		return fmt.Errorf("--pin: %w", err)
	}
	return nil
}

// describe is a witness as people read it: "Alice (auditor)".
func describe(w transcript.Witness) string {
	if w.Role == "" {
		return fmt.Sprintf("%q", w.Name)
	}
	return fmt.Sprintf("%q (%s)", w.Name, w.Role)
}

// undeclared notes a key the header does not declare: its line is kept,
// but an auditor will not count it.
func undeclared(v *transcript.Verified, keyID string) string {
	for _, d := range v.Declared {
		if d.KeyID == keyID {
			return ""
		}
	}
	return "; the header does not declare this key"
}

func newWitnessMergeCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge A B -o OUT",
		Short: "Merge two copies of one sealed transcript signed by different witnesses into a new file",
		Long: "A and B must verify and be identical through the seal; OUT gets that, then every distinct witness\n" +
			"line of A and of B. OUT is a new file: an existing one is never overwritten.",
		Args: fileArgs("witness merge", 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var copies [2][]byte
			for i, path := range args {
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				if _, err := transcript.Verify(data); err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				copies[i] = data
			}
			merged, err := transcript.Merge(copies[0], copies[1])
			if err != nil {
				return fmt.Errorf("merge %s and %s: %w", args[0], args[1], err)
			}
			v, err := transcript.Verify(merged)
			if err != nil {
				return fmt.Errorf("merge %s and %s: the result does not verify: %w", args[0], args[1], err)
			}
			if err := newfile.Write(out, merged, 0o644, nil); err != nil {
				return err
			}
			names := make([]string, len(v.Witnesses))
			for i, w := range v.Witnesses {
				names[i] = describe(w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merged %s and %s into %s: %d witnesses over seal sha256:%s: %s\n",
				args[0], args[1], out, len(v.Witnesses), v.SealSHA256, strings.Join(names, ", "))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the merged transcript, a new file")
	cmd.MarkFlagRequired("output")
	return cmd
}

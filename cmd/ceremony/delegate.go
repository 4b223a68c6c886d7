package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ceremony-dev/ceremony/config"
	"github.com/ceremony-dev/ceremony/internal/infile"
	"github.com/ceremony-dev/ceremony/secret"
	"github.com/ceremony-dev/ceremony/trust"
	"github.com/ceremony-dev/ceremony/trust/names"
	"github.com/spf13/cobra"
)

// server holds the flags that say how to reach and trust the notary server;
// they override what --config gives.
type server struct {
	config, url, tlsCA, trustDir, pinCA, auth string
}

func (s *server) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&s.config, "config", "", "ceremony config: notary.url, notary.tls_ca, notary.trust_dir, and output/ca.pem as the pinned CA")
	f.StringVar(&s.url, "server", "", "notary server URL (https)")
	f.StringVar(&s.tlsCA, "tls-ca", "", "CA of the server's TLS certificate (PEM)")
	f.StringVar(&s.trustDir, "trust-dir", "", "notary trust directory")
	f.StringVar(&s.pinCA, "ca", "", "the ceremony CA to pin for the repository (default: ca.pem in the config's output)")
	f.StringVar(&s.auth, "auth", "", "credentials for a server behind token authentication, what the notary CLI's NOTARY_AUTH holds\n"+
		"(base64 of user:password): env:NAME, file:PATH or prompt (default: notary.auth of --config; none: anonymous)")
}

func (s *server) client(ctx context.Context) (*trust.Client, error) {
	if s.config != "" {
		cfg, err := config.LoadNotary(s.config)
		if err != nil {
			return nil, err
		}
		pick(&s.url, cfg.Notary.URL)
		pick(&s.tlsCA, cfg.Path(cfg.Notary.TLSCA))
		pick(&s.trustDir, cfg.Path(cfg.Notary.TrustDir))
		pick(&s.pinCA, filepath.Join(cfg.OutputDir(), "ca.pem"))
		pick(&s.auth, cfg.Notary.Auth)
	}
	switch {
	case s.url == "":
		return nil, fmt.Errorf("no notary server: give --server URL or --config with notary.url")
	case s.trustDir == "":
		return nil, fmt.Errorf("no trust directory: give --trust-dir or --config with notary.trust_dir")
	case s.pinCA == "":
		return nil, fmt.Errorf("no CA to pin: give --ca (the ceremony's ca.pem) or --config")
	}
	auth, err := s.readAuth(ctx)
	if err != nil {
		return nil, err
	}
	return trust.New(trust.Config{URL: s.url, TLSCA: s.tlsCA, TrustDir: s.trustDir, PinCA: s.pinCA, Auth: auth})
}

// readAuth reads the credentials' source; none means anonymous.
func (s *server) readAuth(ctx context.Context) ([]byte, error) {
	if s.auth == "" {
		return nil, nil
	}
	src, err := secret.Parse(s.auth)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("--auth: %w", err)}
	}
	b, err := src.Read(ctx, "notary auth (base64 of user:password)", secret.Terminal{})
	if err != nil {
		return nil, err
	}
	if err := trust.ParseAuth(b); err != nil {
		return nil, err
	}
	return b, nil
}

func pick(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func newSignCmd() *cobra.Command {
	var srv server
	var gun, tag, image, manifest, role, key, keyPass, pin string
	cmd := &cobra.Command{
		Use:   "sign",
		Short: "Delegate: add an image manifest as a target of a delegation role and publish",
		Long: "Add the sha256 and size of an image manifest (read from the registry, or from --manifest) as TAG in the\n" +
			"delegation role, signed with the delegate's key, and publish (the seed's skopeo inspect --raw + notary addhash -r).\n" +
			"--key is a PEM private key file (as docker trust key generate writes) or a pkcs11: URI.\n" +
			"Without --role the tag goes into every delegation role that holds the key, as docker trust sign does: a docker\n" +
			"signer's key is in targets/releases, the role docker's client reads tags from, and in targets/NAME, its name.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (image == "") == (manifest == "") {
				return &exitError{code: 2, err: fmt.Errorf("give exactly one of --image REF and --manifest FILE")}
			}
			if err := checkSignFlags(gun, role, keyPass, pin); err != nil {
				return &exitError{code: 2, err: err}
			}
			ctx := cmd.Context()
			c, err := srv.client(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			// What is local first (the manifest file, the key file's
			// shape), then whether the account may publish (the same
			// check as a ceremony's preflight), then the registry, and the
			// key's passphrase last.
			var digest string
			var size int64
			if manifest != "" {
				b, err := infile.Read(manifest, maxInput)
				if err != nil {
					return fmt.Errorf("manifest: %w", err)
				}
				digest, size = trust.DigestOf(b)
			}
			if err := trust.CheckDelegateKey(key); err != nil {
				return err
			}
			if err := c.CheckPublish(ctx, gun); err != nil {
				return err
			}
			if image != "" {
				if digest, size, err = trust.ManifestDigest(ctx, image); err != nil {
					return err
				}
			}
			dk, closeKey, err := trust.OpenDelegateKey(ctx, key, keyPass, pin, secret.Terminal{})
			if err != nil {
				return err
			}
			defer closeKey()
			var roles []string
			if role != "" {
				roles = []string{role}
			}
			res, err := c.AddTarget(ctx, gun, roles, tag, digest, size, dk)
			if err != nil {
				return err
			}
			state := "signed and published"
			if res.AlreadyPresent {
				state = "already signed"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s:%s %s (%d bytes) as %s with key %s\n", state, gun, tag, digest, size, strings.Join(res.Roles(), " and "), dk.ID())
			return nil
		},
	}
	srv.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&gun, "gun", "", "repository (GUN), e.g. docker.io/alice/nginx")
	f.StringVar(&tag, "tag", "", "tag to sign, e.g. latest")
	f.StringVar(&image, "image", "", "image reference to read the manifest from, e.g. registry.example/alice/nginx:latest")
	f.StringVar(&manifest, "manifest", "", "a manifest file instead of --image (skopeo inspect --raw output)")
	f.StringVar(&role, "role", "", "delegation role, e.g. targets/me (default: every role that holds the key)")
	f.StringVar(&key, "key", "", "the delegate's key: PEM private key file or pkcs11: URI")
	f.StringVar(&keyPass, "key-passphrase", "prompt", "passphrase of an encrypted key file: env:NAME, file:PATH or prompt")
	f.StringVar(&pin, "pin", "", "PIN for a pkcs11: key (default: the URI's pin-source, else prompt)")
	for _, name := range []string{"gun", "tag", "key"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

// checkSignFlags refuses a GUN, role or secret source that notary or the
// key would refuse later, before the registry, a token or the server is
// touched.
func checkSignFlags(gun, role, keyPass, pin string) error {
	if err := names.CheckGUN(gun); err != nil {
		return fmt.Errorf("--gun: %w", err)
	}
	if role != "" { // else every role that holds the key, found on the server
		if err := names.CheckRole(role); err != nil {
			return fmt.Errorf("--role: %w", err)
		}
	}
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

func newValidateCmd() *cobra.Command {
	var srv server
	var gun, tag, image string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check that notary's target for a tag is the manifest the registry serves",
		Long: "Compare the sha256 and size notary holds for TAG (notary lookup) with the manifest the registry serves for\n" +
			"--image (skopeo inspect --raw | sha256sum, wc -c). Exit 0 only when both agree.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := names.CheckGUN(gun); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--gun: %w", err)}
			}
			c, err := srv.client(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			v, err := c.Validate(cmd.Context(), gun, tag, image)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "valid: %s %s is %s (%d bytes), signed by %s; the registry serves the same manifest for %s\n",
				gun, tag, v.Target.Digest, v.Target.Size, v.Target.Role, image)
			return nil
		},
	}
	srv.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&gun, "gun", "", "repository (GUN)")
	f.StringVar(&tag, "tag", "", "tag to check")
	f.StringVar(&image, "image", "", "image reference in the registry")
	for _, name := range []string{"gun", "tag", "image"} {
		cmd.MarkFlagRequired(name)
	}
	return cmd
}

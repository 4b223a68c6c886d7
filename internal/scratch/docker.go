package scratch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
)

// DebianDocker is where Debian's docker.io package installs the docker
// client. It is preferred to a docker earlier on PATH: docker's view of a
// ceremony is checked with the client Debian ships.
const DebianDocker = "/usr/bin/docker"

// DockerCLI finds the docker client: Debian's, else the first on PATH.
func DockerCLI() (string, error) {
	if _, err := os.Stat(DebianDocker); err == nil {
		return DebianDocker, nil
	}
	p, err := exec.LookPath("docker")
	if err != nil {
		return "", errors.New("the docker client is not installed (Debian's docker.io: make deps)")
	}
	return p, nil
}

// DockerTrust returns a command that runs the docker client against this
// notary server, as a docker user would set it up: DOCKER_CONTENT_TRUST_SERVER
// names the server, and a fresh DOCKER_CONFIG under dir holds the server's
// TLS CA where docker reads it, tls/<host:port>/ca.crt, and docker's trust
// cache. `docker trust inspect` needs no daemon. Docker trusts a
// repository's root on first use: it has no way to pin the ceremony's CA.
func (s *NotaryServer) DockerTrust(ctx context.Context, dir string, args ...string) (*exec.Cmd, error) {
	bin, err := DockerCLI()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("notary server URL: %w", err)
	}
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("notary server CA: %w", err)
	}
	tlsDir := filepath.Join(dir, "tls", u.Host)
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tlsDir, "ca.crt"), ca, 0o644); err != nil {
		return nil, fmt.Errorf("docker config: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "DOCKER_CONFIG=" + dir,
		"DOCKER_CONTENT_TRUST_SERVER=" + s.URL}
	return cmd, nil
}

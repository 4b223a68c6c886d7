package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/scratch"
)

// TestNotaryServer starts the real notary-server, checks that it answers
// only over TLS that verifies against its CA, and that Stop ends the process.
func TestNotaryServer(t *testing.T) {
	s := NotaryServerT(t)
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %q", s.URL)
	}
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	for _, tc := range []struct {
		name    string
		roots   *x509.CertPool
		path    string
		wantErr bool
	}{
		{"health with CA", pool, "/_notary_server/health", false},
		{"v2 with CA", pool, "/v2/", false},
		{"system roots do not trust it", nil, "/v2/", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tc.roots}}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(s.URL + tc.path)
			if tc.wantErr {
				var ua x509.UnknownAuthorityError
				if !errors.As(err, &ua) {
					t.Fatalf("want an unknown-authority error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", tc.path, resp.Status)
			}
		})
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d still exists after Stop (kill 0: %v)", s.PID, err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartNotaryServerCancelled(t *testing.T) {
	Tool(t, scratch.NotaryServerBinary)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := scratch.StartNotaryServer(ctx, t.TempDir())
	if err == nil {
		s.Stop()
		t.Fatal("a cancelled start succeeded")
	}
}

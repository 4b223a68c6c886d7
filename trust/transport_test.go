package trust

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theupdateframework/notary/storage"
	"github.com/theupdateframework/notary/tuf/data"
)

// TestTransportReusesConnections: notary closes the body of a 404 unread;
// the client's transport still reads it, so the next request goes over the
// same TLS connection instead of a new handshake.
func TestTransportReusesConnections(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"not found", http.StatusNotFound, `{"errors":[{"code":"METADATA_NOT_FOUND","message":"You have requested metadata that does not exist."}]}`},
		{"found", http.StatusOK, `{"signed":{},"signatures":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.StartTLS()
			c := clientOf(t, srv)
			remote, err := storage.NewNotaryServerStore(c.cfg.URL, "example.com/r", c.transport(context.Background()))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				_, err := remote.GetSized(data.CanonicalRootRole.String(), storage.NoSizeLimit)
				var notFound storage.ErrMetaNotFound
				if (tc.status == http.StatusNotFound) != errors.As(err, &notFound) {
					t.Fatalf("GetSized: %v", err)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("3 requests opened %d connections, want 1", n)
			}
		})
	}
}

// TestProbesOneAtATime: preflight's probes of many repositories reach the
// server one at a time. notary-server 0.7.0 over SQL caches metadata in a
// map without a lock, and reads at once of repositories it holds crash it;
// the server here answers slowly, so probes sent together would overlap.
func TestProbesOneAtATime(t *testing.T) {
	var inFlight, most atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		w.WriteHeader(http.StatusOK) // every repository is held: the crashing case
	}))
	c := clientOf(t, srv)
	guns := make([]string, 24)
	for i := range guns {
		guns[i] = fmt.Sprintf("docker.io/held/r%d", i)
	}
	held, err := c.HasTrustDataOf(context.Background(), guns)
	if err != nil || len(held) != len(guns) {
		t.Fatalf("HasTrustDataOf = %d of %d, %v", len(held), len(guns), err)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d probes reached the server at once, want 1", m)
	}
}

// clientOf is a Client of the started TLS server srv, trusting its
// certificate; both are closed when the test ends.
func clientOf(t *testing.T, srv *httptest.Server) *Client {
	t.Helper()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "tls-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := buildClient(Config{URL: srv.URL, TLSCA: caFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestStalledBodyCloses: a server that declares a body and stalls half way
// (a load balancer gone quiet) does not hang the step whose notary call
// closes the body unread: the drain gives up after drainWait.
func TestStalledBodyCloses(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("0123456789"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer close(release) // before srv.Close, which waits for the handler
	c := clientOf(t, srv)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/v2/docker.io/a/b/_trust/tuf/root.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: c.transport(context.Background())}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- resp.Body.Close() }()
	select {
	case <-closed:
	case <-time.After(10 * drainWait):
		t.Fatalf("closing a stalled body still blocks after %v", 10*drainWait)
	}
}

package trust

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// TestInitEmptyServerKey: notary-signer 0.7.0 hands out an empty timestamp
// key when its database fails while it makes one (seen with PostgreSQL
// crashed mid-init, steps' TestProductionServerDies). Init refuses the root
// notary built around it before publishing, says what to do, and leaves
// nothing to resume: the next run, against a healthy server, publishes.
// The server's answer is rewritten by a proxy in front of a real one.
func TestInitEmptyServerKey(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NotaryServerT(t)
	const gun = "docker.io/alice/empty-timestamp-key"
	o := newOwner(t, srv, gun)

	ca, err := os.ReadFile(srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	var emptied int
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_trust/tuf/timestamp.key") {
			emptied++
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"keytype":"","keyval":{"public":null,"private":null}}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	front.StartTLS()
	sick := clientOf(t, front)
	sick.cfg.TrustDir, sick.cfg.PinCA, sick.cfg.Passphrases, sick.cfg.Token = o.cfg.TrustDir, o.cfg.PinCA, o.cfg.Passphrases, o.cfg.Token

	_, err = sick.Init(ctx, gun, o.repoCert)
	if !errors.Is(err, errEmptyServerKey) || emptied == 0 {
		t.Fatalf("Init with an empty timestamp key from the server: %v (the key was asked %d times)", err, emptied)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("more than one line: %q", err)
	}
	if _, err := os.Stat(filepath.Join(o.client.gunDir(gun), "metadata", "root.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the root built around the empty key is kept: %v", err)
	}
	if held, err := o.client.HasTrustData(ctx, gun); err != nil || held {
		t.Fatalf("the server holds %s after the refusal: %v, %v", gun, held, err)
	}

	healthy := newClient(t, o.cfg)
	res, err := healthy.Init(ctx, gun, o.repoCert)
	if err != nil {
		t.Fatalf("Init against the healthy server: %v", err)
	}
	if res.Resumed || res.RootVersion != 1 {
		t.Errorf("%+v", res)
	}
}

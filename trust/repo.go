package trust

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/distribution/registry/client/auth"
	"github.com/sirupsen/logrus"
	"github.com/theupdateframework/notary"
	"github.com/theupdateframework/notary/client"
	"github.com/theupdateframework/notary/client/changelist"
	"github.com/theupdateframework/notary/cryptoservice"
	"github.com/theupdateframework/notary/storage"
	"github.com/theupdateframework/notary/trustmanager"
	"github.com/theupdateframework/notary/trustpinning"
	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"

	"github.com/ceremony-dev/ceremony/trust/names"
)

// Config says where the notary server is, how to trust it and where the
// local trust data lives. Its keys are the `notary:` block of the ceremony
// configuration.
type Config struct {
	// URL of the notary server, https only: there is no plain-HTTP or
	// skip-verify mode.
	URL string
	// TLSCA is a PEM file with the CA of the server's TLS certificate; empty
	// means the system roots.
	TLSCA string
	// TrustDir keeps the notary CLI's layout (private/<id>.key,
	// tuf/<gun>/metadata, tuf/<gun>/changelist), so the CLI can use it too.
	TrustDir string
	// PinCA is the ceremony CA (ca.pem) pinned for every GUN this client
	// touches, with TOFU off: trust_pinning {ca: {gun: PinCA}, disable_tofu: true}.
	PinCA string
	// Passphrases protect the targets and snapshot key files notary makes
	// at init, and a delegate's key file.
	Passphrases Passphrases
	// Token holds the root key (and optionally a targets key) in the
	// PKCS#11 token; nil for a delegate or a reader.
	Token *KeyStore
	// Auth is what the notary CLI's NOTARY_AUTH holds, the base64 of
	// user:password, for a server behind token authentication; empty for
	// none (reads then go anonymous). Never logged, never in an error.
	Auth []byte
}

// Passphrases for notary's key files. Never logged, never in an error.
type Passphrases struct {
	Targets  []byte
	Snapshot []byte
}

// Client runs notary operations against one server with one trust dir.
type Client struct {
	cfg   Config
	base  *http.Transport
	creds *credentials // from Auth; nil for anonymous
	auth  *authState

	// pinged is when Ping last passed: notary-server re-checks its
	// signer and database every 10 s, so asking again within pingFresh
	// would only repeat its last answer, at two round trips an operation.
	pingMu sync.Mutex
	pinged time.Time

	// keys is the trust dir's key file store, read once: notary's store
	// opens every key file when it is made, so one per operation made a
	// ceremony of N repositories open N² files. It sees the keys this
	// client adds; nothing else writes the trust dir during a ceremony.
	keysMu sync.Mutex
	keys   indexedKeys
}

// New checks the configuration and builds the TLS transport. It does not
// contact the server.
func New(cfg Config) (*Client, error) {
	if err := names.CheckServerURL(cfg.URL); err != nil {
		return nil, err
	}
	switch {
	case cfg.TrustDir == "":
		return nil, errors.New("notary trust_dir is empty")
	case cfg.PinCA == "":
		return nil, errors.New("no CA to pin: the ceremony CA (ca.pem) is pinned for every repository")
	}
	if _, err := os.Stat(cfg.PinCA); err != nil {
		return nil, fmt.Errorf("pinned CA: %w", err)
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	pinCA, err := filepath.Abs(cfg.PinCA)
	if err != nil {
		return nil, err
	}
	cfg.PinCA = pinCA
	return buildClient(cfg)
}

// buildClient builds the TLS transport and reads the credentials.
func buildClient(cfg Config) (*Client, error) {
	base, err := newTransport(cfg.TLSCA)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, base: base, auth: &authState{}}
	if len(cfg.Auth) > 0 {
		if c.creds, err = parseAuth(cfg.Auth); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// SetNotaryLog sends the notary library's log to w (io.Discard to silence
// it). notary logs through logrus's process-wide logger, so this is process
// state: the binary calls it once at start, before any notary code runs, so
// that no stray notary line lands between the ceremony's own output.
func SetNotaryLog(w io.Writer, debug bool) {
	logrus.SetOutput(w)
	logrus.SetLevel(logrus.InfoLevel)
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
	}
}

// CheckServer is the one check of a notary server before anything else
// exists (the ceremony's preflight runs it before the CA that New needs is
// made): it answers over verified TLS, is healthy (its signer and database
// up), takes the credentials, and lets this client publish. It returns a
// client for HasTrustData; only cfg's URL, TLSCA and Auth are used.
func CheckServer(ctx context.Context, cfg Config) (*Client, error) {
	if err := names.CheckServerURL(cfg.URL); err != nil {
		return nil, err
	}
	c, err := buildClient(Config{URL: strings.TrimRight(cfg.URL, "/"), TLSCA: cfg.TLSCA, Auth: cfg.Auth})
	if err != nil {
		return nil, err
	}
	if err := c.writePing(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// HasTrustData reports whether the server already holds trust data for
// gun: a new ceremony must not find its repositories there, or it would
// make its keys only to fail at notary init.
func (c *Client) HasTrustData(ctx context.Context, gun string) (bool, error) {
	if err := names.CheckGUN(gun); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL+"/v2/"+gun+"/_trust/tuf/root.json", nil)
	if err != nil {
		return false, err
	}
	resp, err := (&http.Client{Transport: c.transport(ctx)}).Do(req)
	if err != nil {
		return false, c.reachError(err)
	}
	// Read to the end so the connection goes back to the pool: a thousand
	// probes share a few TLS handshakes.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("notary server %s answered %d for %s's root.json", c.cfg.URL, resp.StatusCode, gun)
}

// HasTrustDataOf lists those of guns the server already holds trust data
// for, in the order given. It asks one at a time, over one kept-alive
// connection: notary-server 0.7.0 over SQL caches the metadata of a
// repository it serves in a map without a lock
// (server/storage.TUFMetaStorage), so probes at once of repositories it
// holds (a resumed ceremony's) can crash a production server.
func (c *Client) HasTrustDataOf(ctx context.Context, guns []string) ([]string, error) {
	var out []string
	for _, g := range guns {
		found, err := c.HasTrustData(ctx, g)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, g)
		}
	}
	return out, nil
}

// newTransport trusts tlsCA (system roots when empty) and nothing else.
func newTransport(tlsCA string) (*http.Transport, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if tlsCA != "" {
		b, err := os.ReadFile(tlsCA)
		if err != nil {
			return nil, fmt.Errorf("notary tls_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("notary tls_ca %s holds no PEM certificate", tlsCA)
		}
		tlsConf.RootCAs = pool
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       30 * time.Second,
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.base.CloseIdleConnections() }

// ctxTransport binds every request notary makes to the operation's context:
// notary's HTTP store builds its requests without one.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(t.ctx)
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = drainOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// drainOnClose reads what is left of a body before closing it. notary
// closes the body of an answer it does not read (a 404: "not published
// yet") unread, and net/http then drops the connection: each publish paid
// one or two new TLS handshakes, on both sides. Read to the end, the
// connection goes back to the pool. A server that stalls mid-body is given
// up on after drainWait (cancelling the request ends the read), so closing
// a body never hangs a step.
type drainOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

// maxDrain bounds the reading: notary's error bodies are a few hundred
// bytes; a larger rest is cheaper to drop with its connection. drainWait
// bounds it in time.
const (
	maxDrain  = 64 << 10
	drainWait = time.Second
)

func (b drainOnClose) Close() error {
	stop := time.AfterFunc(drainWait, b.cancel)
	io.Copy(io.Discard, io.LimitReader(b.ReadCloser, maxDrain))
	stop.Stop()
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// transport is what notary's stores send through: bound to ctx, and
// answering the server's authentication challenge when Ping met one.
func (c *Client) transport(ctx context.Context) http.RoundTripper {
	if mgr, _ := c.auth.get(); mgr != nil {
		return ctxTransport{ctx: ctx, base: &authTransport{c: c, ctx: ctx, mgr: mgr, handlers: map[string]auth.AuthenticationHandler{}}}
	}
	return ctxTransport{ctx: ctx, base: c.base}
}

// Ping checks that a notary server answers GET /v2/ over verified TLS
// (200, or 401 with a challenge the credentials then answer) and is
// healthy. Every operation pings first (a ping that passed stands for
// pingFresh): notary would otherwise fail half way, after making keys or
// signing, and the CLI even falls back to its offline store.
func (c *Client) Ping(ctx context.Context) error {
	c.pingMu.Lock()
	defer c.pingMu.Unlock()
	if !c.pinged.IsZero() && time.Since(c.pinged) < pingFresh {
		return nil
	}
	if err := c.ping(ctx); err != nil {
		return err
	}
	c.pinged = time.Now()
	return nil
}

// pingFresh is how long a passed Ping stands: half notary-server's own
// health period, so a server that went down is asked again before it could
// have noticed twice.
const pingFresh = 5 * time.Second

func (c *Client) ping(ctx context.Context) error {
	resp, err := c.get(ctx, "/v2/")
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		// A notary server behind token auth (Docker Hub's).
		if err := c.challenge(resp); err != nil {
			return err
		}
		if err := c.login(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("notary server %s answered GET /v2/ with %d: is this the notary server's URL?", c.cfg.URL, resp.StatusCode)
	}
	return c.health(ctx)
}

// writePing is Ping for an operation that publishes.
func (c *Client) writePing(ctx context.Context) error {
	if err := c.Ping(ctx); err != nil {
		return err
	}
	return c.requireCredentials()
}

// get fetches path from the server (within 30 s), body discarded.
func (c *Client) get(ctx context.Context, path string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("notary server %s: %w", c.cfg.URL, err)
	}
	resp, err := (&http.Client{Transport: c.base}).Do(req)
	if err != nil {
		return nil, c.reachError(err)
	}
	// Read to the end so the connection goes back to the pool: a thousand
	// probes share a few TLS handshakes.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<20))
	resp.Body.Close()
	return resp, nil
}

// reachError says in one line why the server cannot be used and what to do.
func (c *Client) reachError(err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		recordHd tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("TLS certificate of %s is not trusted (%v): give its CA in notary.tls_ca (or --tls-ca)", c.cfg.URL, unknown)
	case errors.As(err, &hostname):
		return fmt.Errorf("TLS certificate of %s is not valid for that host (%v): use the name the certificate gives in notary.url", c.cfg.URL, hostname)
	case errors.As(err, &invalid):
		return fmt.Errorf("TLS certificate of %s is invalid: %v", c.cfg.URL, invalid)
	case errors.As(err, &recordHd),
		// net/http turns a plain-HTTP answer into an untyped error.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("notary server %s does not speak TLS on that port", c.cfg.URL)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("notary server %s is unreachable: connection refused; is it running?", c.cfg.URL)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("notary server %s: %w", c.cfg.URL, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("notary server %s is unreachable: no answer in time", c.cfg.URL)
	}
	return fmt.Errorf("notary server %s is unreachable: %w", c.cfg.URL, err)
}

// pinning is the seed's trust pinning: the ceremony CA for the GUN, TOFU off.
func (c *Client) pinning(gun data.GUN) trustpinning.TrustPinConfig {
	return trustpinning.TrustPinConfig{CA: map[string]string{gun.String(): c.cfg.PinCA}, DisableTOFU: true}
}

// gunDir is notary's per-repository directory in the trust dir.
func (c *Client) gunDir(gun data.GUN) string {
	return filepath.Join(c.cfg.TrustDir, "tuf", filepath.FromSlash(gun.String()))
}

// fileKeyStore is notary's passphrase-protected key files, in the CLI's
// layout under the trust dir.
func (c *Client) fileKeyStore() (indexedKeys, error) {
	c.keysMu.Lock()
	defer c.keysMu.Unlock()
	if c.keys.GenericKeyStore != nil {
		return c.keys, nil
	}
	ks, err := trustmanager.NewKeyFileStore(c.cfg.TrustDir, c.retriever())
	if err != nil {
		return indexedKeys{}, fmt.Errorf("key files in %s: %w", c.cfg.TrustDir, err)
	}
	c.keys = indexedKeys{ks} // a failure is not kept: a retry after the fix reads again
	return c.keys, nil
}

// indexedKeys is notary's key file store, answering "not here" from its
// index. notary's GetKey walks every file in trust_dir/private to find a key
// it has not yet decrypted, and a key held elsewhere (the token's root key,
// asked of each store in turn) is never decrypted here: each signature
// with it walked N files, so a ceremony of N repositories made N² reads.
// The index (GetKeyInfo) is read from the same files when the store is made
// and kept by AddKey and RemoveKey; nothing else writes the trust dir
// during a ceremony.
type indexedKeys struct{ *trustmanager.GenericKeyStore }

// GetKey is the store's GetKey for a key in its index.
func (s indexedKeys) GetKey(keyID string) (data.PrivateKey, data.RoleName, error) {
	if _, err := s.GetKeyInfo(keyID); err != nil {
		return nil, "", trustmanager.ErrKeyNotFound{KeyID: keyID}
	}
	return s.GenericKeyStore.GetKey(keyID)
}

// openWriter rebuilds client.NewFileCachedRepository with our key stores in
// front of the file store: cryptoservice asks stores in order, so a token
// key is found first, and AddKey's refusal sends new software keys to the
// file store. The transport is bound to ctx; it is never nil, so notary
// never falls back to its offline store.
func (c *Client) openWriter(ctx context.Context, gun data.GUN, stores ...trustmanager.KeyStore) (client.Repository, error) {
	dir := c.gunDir(gun)
	cache, err := storage.NewFileStore(filepath.Join(dir, "metadata"), "json")
	if err != nil {
		return nil, err
	}
	cl, err := changelist.NewFileChangelist(filepath.Join(dir, "changelist"))
	if err != nil {
		return nil, err
	}
	// Every operation here stages and publishes at once. A change left by
	// one that failed to publish would be replayed before the next and fail
	// it too, so each starts with an empty changelist.
	if err := cl.Clear(""); err != nil {
		return nil, fmt.Errorf("clear the changelist of %s: %w", gun, err)
	}
	fileKS, err := c.fileKeyStore()
	if err != nil {
		return nil, err
	}
	remote, err := storage.NewNotaryServerStore(c.cfg.URL, gun, c.transport(ctx))
	if err != nil {
		return nil, err
	}
	stores = append(stores, fileKS) // last: it accepts every key
	cs := tokenTargets{cryptoservice.NewCryptoService(stores...), c.cfg.Token}
	return client.NewRepository(gun, c.cfg.URL, remote, cache, c.pinning(gun), cs, cl)
}

// tokenTargets is notary's crypto service, except that when the token holds
// a targets key for the repository, notary's request for a new targets key
// (at init) gets that key instead of a new software key: notary has no other
// way to initialise with an existing targets key.
type tokenTargets struct {
	*cryptoservice.CryptoService
	token *KeyStore
}

func (cs tokenTargets) Create(role data.RoleName, gun data.GUN, algorithm string) (data.PublicKey, error) {
	if role == data.CanonicalTargetsRole && cs.token != nil {
		if k := cs.token.targetsKey(gun); k != nil {
			return data.PublicKeyFromPrivate(k), nil
		}
	}
	return cs.CryptoService.Create(role, gun, algorithm)
}

// tokenStores is the token store bound to ctx, when there is one.
func (c *Client) tokenStores(ctx context.Context) []trustmanager.KeyStore {
	if c.cfg.Token == nil {
		return nil
	}
	return []trustmanager.KeyStore{c.cfg.Token.withContext(ctx)}
}

// openReader is a read-only repository with an in-memory cache: every read
// validates the server's root against the pinned CA from scratch, whatever
// an earlier run left in the trust dir.
func (c *Client) openReader(ctx context.Context, gun data.GUN) (client.Repository, storage.MetadataStore, storage.RemoteStore, error) {
	remote, err := storage.NewNotaryServerStore(c.cfg.URL, gun, c.transport(ctx))
	if err != nil {
		return nil, nil, nil, err
	}
	cache := storage.NewMemoryStore(nil)
	repo, err := client.NewRepository(gun, c.cfg.URL, remote, cache, c.pinning(gun), cryptoservice.EmptyService, changelist.NewMemChangelist())
	if err != nil {
		return nil, nil, nil, err
	}
	return repo, cache, remote, nil
}

// retriever hands notary the configured passphrases. It gives up after the
// first refused attempt: notary would otherwise ask again up to ten times,
// and the same answer cannot become right.
func (c *Client) retriever() notary.PassRetriever {
	return func(keyID, alias string, createNew bool, attempts int) (string, bool, error) {
		role := data.RoleName(alias)
		if attempts > 0 {
			return "", true, fmt.Errorf("the %s passphrase does not open key %s", role, keyID)
		}
		var p []byte
		switch {
		case role == data.CanonicalTargetsRole:
			p = c.cfg.Passphrases.Targets
		case role == data.CanonicalSnapshotRole:
			p = c.cfg.Passphrases.Snapshot
		}
		if len(p) == 0 {
			return "", true, fmt.Errorf("no %s passphrase is configured (key %s)", role, keyID)
		}
		return string(p), false, nil
	}
}

// CheckPassphrase looks in trustDir's private key files for the role's keys
// of gun (as notary writes them: PEM headers "role" and "gun") and reports an
// error when there are some and pass opens none of them. A resumed ceremony
// runs it in preflight: a changed passphrase is found before anything is
// signed, not after a half-done publish. No key file means nothing to check.
func CheckPassphrase(trustDir, gun, role string, pass []byte) error {
	files, err := filepath.Glob(filepath.Join(trustDir, "private", "*.key"))
	if err != nil {
		return err
	}
	found := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		block, _ := pem.Decode(b)
		if block == nil || block.Headers["role"] != role || block.Headers["gun"] != gun {
			continue
		}
		found++
		if _, err := utils.ParsePEMPrivateKey(b, string(pass)); err == nil {
			return nil
		}
	}
	if found == 0 {
		return nil
	}
	return fmt.Errorf("the %s passphrase opens none of the %d %s key file(s) of %s in %s: give the passphrase they were made with", role, found, role, gun, filepath.Join(trustDir, "private"))
}

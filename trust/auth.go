package trust

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ceremony-dev/ceremony/trust/names"
	"github.com/docker/distribution/registry/client/auth"
	"github.com/docker/distribution/registry/client/auth/challenge"
)

// credentials are what the notary CLI's NOTARY_AUTH holds, decoded. They
// are handed only to an https realm.
type credentials struct{ user, pass string }

// ParseAuth checks an auth value the way the notary CLI reads NOTARY_AUTH:
// the base64 of user:password. The error never quotes the value.
func ParseAuth(b []byte) error {
	_, err := parseAuth(b)
	return err
}

func parseAuth(b []byte) (*credentials, error) {
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, errors.New("notary auth is not base64: give the base64 of user:password, as the notary CLI's NOTARY_AUTH (printf '%s' user:password | base64)")
	}
	user, pass, ok := bytes.Cut(raw, []byte(":"))
	if !ok || len(user) == 0 || len(pass) == 0 {
		return nil, errors.New("notary auth does not decode to user:password: give the base64 of user:password, as the notary CLI's NOTARY_AUTH")
	}
	return &credentials{user: string(user), pass: string(pass)}, nil
}

// Basic implements auth.CredentialStore. A realm that is not https gets
// nothing: the password would cross the network in clear.
func (c *credentials) Basic(realm *url.URL) (string, string) {
	if c == nil || realm == nil || realm.Scheme != "https" {
		return "", ""
	}
	return c.user, c.pass
}

// RefreshToken implements auth.CredentialStore: no OAuth refresh tokens.
func (*credentials) RefreshToken(*url.URL, string) string { return "" }

// SetRefreshToken implements auth.CredentialStore.
func (*credentials) SetRefreshToken(*url.URL, string, string) {}

// credStore is the credentials as docker/distribution takes them: a nil
// *credentials must become a nil interface, or the handlers would call it.
func (c *Client) credStore() auth.CredentialStore {
	if c.creds == nil {
		return nil
	}
	return c.creds
}

// authState is what a client learnt of the server's authentication: the
// challenges of its GET /v2/ (none: the server is open), and the first
// refusal of the credentials, after which they are never offered again.
type authState struct {
	mu         sync.Mutex
	challenges challenge.Manager // nil: no authentication asked
	refused    error
}

func (a *authState) get() (challenge.Manager, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.challenges, a.refused
}

// challenge records the 401 answer of GET /v2/: the Bearer (token) or
// Basic challenge that every later request answers.
func (c *Client) challenge(resp *http.Response) error {
	var schemes []string
	for _, ch := range challenge.ResponseChallenges(resp) {
		schemes = append(schemes, ch.Scheme)
	}
	if !slices.Contains(schemes, "bearer") && !slices.Contains(schemes, "basic") {
		return fmt.Errorf("notary server %s asks for authentication (401) with %q, not a Bearer token or Basic challenge: is this the notary server's URL?", c.cfg.URL, resp.Header.Get("WWW-Authenticate"))
	}
	mgr := challenge.NewSimpleManager()
	if err := mgr.AddResponse(resp); err != nil {
		return fmt.Errorf("notary server %s: its authentication challenge: %w", c.cfg.URL, err)
	}
	c.auth.mu.Lock()
	c.auth.challenges = mgr
	c.auth.mu.Unlock()
	return nil
}

// login answers the recorded challenge once with no scope: the token server
// checks the credentials, so wrong ones are one clear error before any
// operation starts. notary-server's GET /v2/ asks for registry:catalog:*,
// which ordinary accounts do not get, so the 401 itself is not the test.
func (c *Client) login(ctx context.Context) error {
	mgr, refused := c.auth.get()
	if refused != nil {
		return refused
	}
	if mgr == nil || c.creds == nil {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL+"/v2/", nil)
	if err != nil {
		return err
	}
	return c.authorize(ctx, mgr, req, nil)
}

// authorize adds the Authorization header for req, fetching a token for
// scopes through the token server the challenge names. It reuses
// docker/distribution's handlers, as the notary CLI does (tokenAuth in
// cmd/notary/tuf.go).
func (c *Client) authorize(ctx context.Context, mgr challenge.Manager, req *http.Request, scopes []auth.Scope) error {
	creds := c.credStore()
	th := auth.NewTokenHandlerWithOptions(auth.TokenHandlerOptions{
		Transport: ctxTransport{ctx: ctx, base: c.base}, Credentials: creds, Scopes: scopes,
	})
	err := auth.NewAuthorizer(mgr, th, auth.NewBasicHandler(creds)).ModifyRequest(req)
	if err == nil {
		return nil
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("the token server of %s is unreachable: %w", c.cfg.URL, err)
	}
	if errors.Is(err, auth.ErrNoBasicAuthCredentials) {
		return c.refuse(fmt.Errorf("notary server %s asks for a user and password: give notary.auth (or --auth)", c.cfg.URL))
	}
	if c.creds == nil {
		return c.refuse(fmt.Errorf("the token server of %s refused an anonymous request (%v): give notary.auth (or --auth)", c.cfg.URL, err))
	}
	return c.refuse(fmt.Errorf("the token server of %s refused the credentials (%v): check notary.auth (or --auth): the base64 of user:password, as the notary CLI's NOTARY_AUTH", c.cfg.URL, err))
}

// refuse remembers the first refusal: the same credentials would only be
// refused again, and a token server may lock an account after a few.
func (c *Client) refuse(err error) error {
	c.auth.mu.Lock()
	defer c.auth.mu.Unlock()
	if c.auth.refused == nil {
		c.auth.refused = err
	}
	return c.auth.refused
}

// requireCredentials is for operations that write: a server that asks for
// authentication will not let an anonymous client publish.
func (c *Client) requireCredentials() error {
	if mgr, _ := c.auth.get(); mgr != nil && c.creds == nil {
		return fmt.Errorf("notary server %s requires authentication to publish: give notary.auth (or --auth) with the base64 of user:password", c.cfg.URL)
	}
	return nil
}

// authTransport answers the server's challenge on every request, with a
// token for the request's repository and the actions it needs (notary-api:
// GET needs pull, POST push and pull, a key rotation or DELETE "*"). Tokens
// are cached per action set for the life of the transport, one operation.
type authTransport struct {
	c        *Client
	ctx      context.Context
	mgr      challenge.Manager
	mu       sync.Mutex
	handlers map[string]auth.AuthenticationHandler // by scope; each caches its token
}

func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, refused := t.c.auth.get(); refused != nil {
		return nil, refused
	}
	r2 := r.Clone(r.Context())
	if err := t.modify(r2); err != nil {
		return nil, err
	}
	return t.c.base.RoundTrip(r2)
}

func (t *authTransport) modify(r *http.Request) error {
	scopes := requestScopes(r)
	key := fmt.Sprint(scopes)
	creds := t.c.credStore()
	t.mu.Lock()
	th := t.handlers[key]
	if th == nil {
		th = auth.NewTokenHandlerWithOptions(auth.TokenHandlerOptions{
			Transport: ctxTransport{ctx: t.ctx, base: t.c.base}, Credentials: creds, Scopes: scopes,
		})
		t.handlers[key] = th
	}
	t.mu.Unlock()
	err := auth.NewAuthorizer(t.mgr, th, auth.NewBasicHandler(creds)).ModifyRequest(r)
	if err == nil {
		return nil
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return fmt.Errorf("the token server of %s is unreachable: %w", t.c.cfg.URL, err)
	}
	return t.c.refuse(fmt.Errorf("the token server of %s refused a token for %v (%v): check notary.auth (or --auth)", t.c.cfg.URL, scopes, err))
}

// requestScopes is the repository scope a notary request needs, as
// notary-server's routes declare it (server/server.go): pull to read
// metadata; push and pull to publish and to get the server's timestamp or
// snapshot key; "*" to rotate that key (POST <role>.key) or to delete.
func requestScopes(r *http.Request) []auth.Scope {
	p := r.URL.Path
	i := strings.Index(p, "/v2/")
	j := strings.Index(p, "/_trust/")
	if i < 0 || j <= i+4 {
		return nil
	}
	gun := p[i+4 : j]
	actions := []string{"pull"}
	switch {
	case r.Method == http.MethodDelete, r.Method == http.MethodPost && strings.HasSuffix(p, ".key"):
		actions = []string{"*"}
	case r.Method != http.MethodGet && r.Method != http.MethodHead, strings.HasSuffix(p, ".key"):
		actions = []string{"push", "pull"}
	}
	return []auth.Scope{auth.RepositoryScope{Repository: gun, Actions: actions}}
}

// Access is what a ceremony will do on one repository: publish to it
// (push and pull: notary init, a delegation) and, with RotateKeys, hand a
// key to the server (notary key rotate --server-managed), which
// notary-server allows only with "*".
type Access struct {
	GUN        string
	RotateKeys bool
}

func (a Access) scope() auth.RepositoryScope {
	actions := []string{"pull", "push"}
	if a.RotateKeys {
		actions = append(actions, "*")
	}
	return auth.RepositoryScope{Repository: a.GUN, Actions: actions}
}

// tokenQueryBudget bounds the scope parameters of one token request:
// proxies in front of token servers commonly refuse request lines over
// 8 KiB (nginx's default), so a thousand repositories take a few requests.
const tokenQueryBudget = 7 << 10

// CheckAccess asks the token server for every repository's scope, in as
// few requests as tokenQueryBudget allows, and refuses in one line when the
// account may not do its part on one of them: a token server grants the
// intersection of what is asked and what the account may do, and lists it
// in the token's access claim (the registry token specification). The
// claim is read, not verified: notary-server verifies the token, this only
// predicts its answer, before a key is made. A server without token
// authentication, or whose token is not a JWT, is not checked here.
func (c *Client) CheckAccess(ctx context.Context, need []Access) error {
	return c.checkAccess(ctx, need, "notary.auth", "the ceremony's repositories")
}

// CheckPublish is a delegate's preflight (ceremony sign), before its key's
// passphrase is read or the registry is asked: the server answers and is
// healthy, takes the credentials, asks for none it lacks, and its token
// server grants push and pull on gun, by CheckAccess's rule.
func (c *Client) CheckPublish(ctx context.Context, gun string) error {
	if err := names.CheckGUN(gun); err != nil {
		return err
	}
	if err := c.writePing(ctx); err != nil {
		return err
	}
	return c.checkAccess(ctx, []Access{{GUN: gun}}, "--auth (or notary.auth of --config)", "it")
}

// checkAccess is CheckAccess; a denial says that field needs the actions
// on where.
func (c *Client) checkAccess(ctx context.Context, need []Access, field, where string) error {
	mgr, refused := c.auth.get()
	if refused != nil {
		return refused
	}
	if mgr == nil || c.creds == nil {
		return nil
	}
	var denied []denial
	for _, batch := range accessBatches(need, tokenQueryBudget) {
		granted, ok, err := c.grants(ctx, mgr, batch)
		if err != nil || !ok {
			return err
		}
		for _, a := range batch {
			if d, ok := deny(a, granted[a.GUN]); ok {
				denied = append(denied, d)
			}
		}
	}
	if len(denied) == 0 {
		return nil
	}
	return c.denialError(denied, field, where)
}

// accessBatches splits need so that each batch's scope parameters fit in
// budget; a batch holds at least one repository.
func accessBatches(need []Access, budget int) [][]Access {
	var batches [][]Access
	size := 0
	for _, a := range need {
		n := len("&scope=") + len(url.QueryEscape(a.scope().String()))
		if len(batches) == 0 || size+n > budget {
			batches = append(batches, nil)
			size = 0
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], a)
		size += n
	}
	return batches
}

// grants makes one token request for batch's scopes through
// docker/distribution's token handler and returns the token's access claim
// by repository; ok is false when the token is not a JWT or the server's
// challenge is not a Bearer one.
func (c *Client) grants(ctx context.Context, mgr challenge.Manager, batch []Access) (map[string][]string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	scopes := make([]auth.Scope, len(batch))
	for i, a := range batch {
		scopes[i] = a.scope()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL+"/v2/", nil)
	if err != nil {
		return nil, false, err
	}
	th := auth.NewTokenHandlerWithOptions(auth.TokenHandlerOptions{
		Transport: ctxTransport{ctx: ctx, base: c.base}, Credentials: c.credStore(), Scopes: scopes,
	})
	if err := auth.NewAuthorizer(mgr, th).ModifyRequest(req); err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return nil, false, fmt.Errorf("the token server of %s is unreachable: %w", c.cfg.URL, err)
		}
		return nil, false, fmt.Errorf("the token server of %s refused a token for the ceremony's repositories (%v): check that notary.auth's account may push, pull and rotate keys ('*') on them", c.cfg.URL, err)
	}
	token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, false, nil
	}
	granted, ok := tokenAccess(token)
	return granted, ok, nil
}

// tokenAccess reads a registry token's access claim: the actions granted
// by repository. ok is false when the token is not a JWT; a JWT without the
// claim grants nothing, as notary-server reads it.
func tokenAccess(token string) (map[string][]string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, false
	}
	var claims struct {
		Access []struct {
			Type    string   `json:"type"`
			Name    string   `json:"name"`
			Actions []string `json:"actions"`
		} `json:"access"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return nil, false
	}
	granted := map[string][]string{}
	for _, e := range claims.Access {
		if e.Type == "repository" {
			granted[e.Name] = append(granted[e.Name], e.Actions...)
		}
	}
	return granted, true
}

// denial is a repository the account may not do its part on.
type denial struct {
	gun, verb, needs string
	granted          []string
}

// deny compares what a needs with what was granted: "*" covers every
// action, as notary-server's access controller reads it.
func deny(a Access, granted []string) (denial, bool) {
	has := func(action string) bool { return slices.Contains(granted, "*") || slices.Contains(granted, action) }
	d := denial{gun: a.GUN, verb: "publish to", needs: "push,pull", granted: granted}
	if a.RotateKeys {
		d.needs = "'*'"
	}
	switch {
	case !has("pull") || !has("push"):
		return d, true
	case a.RotateKeys && !has("*"):
		d.verb = "rotate keys on"
		return d, true
	}
	return denial{}, false
}

// denialError is one line: the first repository refused, how many others
// are, and what the account given by field needs on where.
func (c *Client) denialError(denied []denial, field, where string) error {
	d := denied[0]
	have := strings.Join(slices.Compact(slices.Sorted(slices.Values(d.granted))), ",")
	if have == "" {
		have = "nothing"
	}
	others := ""
	prep := d.verb[strings.LastIndexByte(d.verb, ' ')+1:] // "to", "on"
	if n := len(denied) - 1; n == 1 {
		others = ", nor " + prep + " 1 other repository"
	} else if n > 1 {
		others = fmt.Sprintf(", nor %s %d other repositories", prep, n)
	}
	return fmt.Errorf("the account %q may not %s %s (granted: %s)%s; %s needs %s on %s",
		c.creds.user, d.verb, d.gun, have, others, field, d.needs, where)
}

// health asks /_notary_server/health: notary-server answers GET /v2/ even
// when its signer or database is down, and then fails only at the first
// write, with a 500. A server that does not expose the endpoint (behind a
// proxy: 404, 401) passes; a 5xx names what is down.
func (c *Client) health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.URL+"/_notary_server/health", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: c.base}).Do(req)
	if err != nil {
		return c.reachError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 500 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return fmt.Errorf("notary server %s is not healthy (%s): %s; fix what it names before the ceremony (notary-server re-checks every 10 s)", c.cfg.URL, resp.Status, healthCause(body))
}

// healthCause is the health body's failed checks, on one line, each named
// by what it watches.
func healthCause(body []byte) string {
	var checks map[string]string
	if json.Unmarshal(body, &checks) != nil || len(checks) == 0 {
		s := strings.Join(strings.Fields(string(body)), " ")
		if s == "" {
			return "no cause given"
		}
		return s
	}
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = healthSubject(n) + ": " + strings.Join(strings.Fields(checks[n]), " ")
	}
	return strings.Join(parts, "; ")
}

// healthSubject names what a notary-server health check watches: its own
// checks are named after what failed ("DB operational"), which does not
// say which service to start.
func healthSubject(check string) string {
	switch check {
	case "DB operational":
		return "its database (DB operational)"
	case "Trust operational":
		return "notary-signer (Trust operational)"
	}
	return check
}

package scratch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// TokenUser is an account of the token issuer and the actions it may have
// on every repository ("pull", "push", "*"), except those Repos names,
// where it has the actions given there.
type TokenUser struct {
	Name, Password string
	Actions        []string
	Repos          map[string][]string
}

// NotaryAuth is what NOTARY_AUTH (and notary.auth) holds for u: base64 of
// user:password, as the notary CLI reads it.
func (u TokenUser) NotaryAuth() string {
	return base64.StdEncoding.EncodeToString([]byte(u.Name + ":" + u.Password))
}

// actionsOn is what u may do on the repository name.
func (u TokenUser) actionsOn(name string) []string {
	if a, ok := u.Repos[name]; ok {
		return a
	}
	return u.Actions
}

// TokenIssuer is an in-process token server that follows the Docker
// registry token specification (what Docker Hub's auth.docker.io does for
// notary.docker.io): HTTP Basic credentials in, a JWT out, ES256-signed by a
// key whose self-signed certificate is the notary-server's rootcertbundle,
// with the repository actions the user may have among those asked for.
// Anonymous requests get a token with no access. It counts requests, so a
// test can tell that refused credentials were not tried again.
type TokenIssuer struct {
	Realm    string // https://127.0.0.1:PORT/token
	Service  string // the aud claim, notary-server's auth.options.service
	Issuer   string // the iss claim
	CertFile string // the signing certificate: notary-server's rootcertbundle

	srv   *httptest.Server
	key   *ecdsa.PrivateKey
	x5c   string // base64 DER of the signing certificate
	users map[string]TokenUser

	mu       sync.Mutex
	requests map[string]int // by user ("" = anonymous, "!" = refused)
}

// startTokenIssuer serves on 127.0.0.1 with a TLS certificate from ca, so
// that clients trusting the notary-server's CA trust it too; the signing
// certificate goes to dir/tokens.crt.
func startTokenIssuer(ca *tlsCA, dir string, users []TokenUser) (*TokenIssuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "ceremony test token signer"},
		NotBefore:    now,
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	t := &TokenIssuer{
		Service:  "notary.test",
		Issuer:   "ceremony-test-token-issuer",
		CertFile: filepath.Join(dir, "tokens.crt"),
		key:      key,
		x5c:      base64.StdEncoding.EncodeToString(der),
		users:    map[string]TokenUser{},
		requests: map[string]int{},
	}
	for _, u := range users {
		t.users[u.Name] = u
	}
	if err := os.WriteFile(t.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := ca.issue(dir, "tokens-tls", "127.0.0.1", x509.ExtKeyUsageServerAuth); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "tokens-tls.crt"), filepath.Join(dir, "tokens-tls.key"))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", t.serveToken)
	t.srv = httptest.NewUnstartedServer(mux)
	t.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	t.srv.StartTLS()
	t.Realm = t.srv.URL + "/token"
	return t, nil
}

// Close stops the issuer.
func (t *TokenIssuer) Close() { t.srv.Close() }

// Requests is how many token requests user made; "" counts anonymous ones
// and "!" refused ones (unknown user or wrong password).
func (t *TokenIssuer) Requests(user string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.requests[user]
}

func (t *TokenIssuer) count(user string) {
	t.mu.Lock()
	t.requests[user]++
	t.mu.Unlock()
}

// accessEntry is one element of the token's access claim.
type accessEntry struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (t *TokenIssuer) serveToken(w http.ResponseWriter, r *http.Request) {
	var user TokenUser // anonymous: no actions
	subject := ""
	if name, pass, ok := r.BasicAuth(); ok {
		u, known := t.users[name]
		if !known || u.Password != pass {
			t.count("!")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`))
			return
		}
		subject, user = name, u
	}
	t.count(subject)
	if r.URL.Query().Get("service") != t.Service {
		http.Error(w, `{"errors":[{"code":"DENIED","message":"unknown service"}]}`, http.StatusBadRequest)
		return
	}
	access := []accessEntry{}
	for _, scope := range r.URL.Query()["scope"] {
		if e, ok := grant(scope, user); ok {
			access = append(access, e)
		}
	}
	jwt, err := t.sign(subject, access)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"token": jwt, "access_token": jwt, "expires_in": 300, "issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}

// grant is the part of a "repository:NAME:a,b" scope that the user's
// actions on NAME cover: "*" covers everything, otherwise actions are
// granted one by one.
func grant(scope string, u TokenUser) (accessEntry, bool) {
	parts := strings.Split(scope, ":")
	if len(parts) < 3 || parts[0] != "repository" {
		return accessEntry{}, false
	}
	name := strings.Join(parts[1:len(parts)-1], ":")
	allowed := u.actionsOn(name)
	var actions []string
	for _, a := range strings.Split(parts[len(parts)-1], ",") {
		if slices.Contains(allowed, "*") || slices.Contains(allowed, a) {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		return accessEntry{}, false
	}
	return accessEntry{Type: "repository", Name: name, Actions: actions}, true
}

// sign makes the JWT: ES256, the signing certificate in x5c.
func (t *TokenIssuer) sign(subject string, access []accessEntry) (string, error) {
	now := time.Now()
	jti := make([]byte, 8)
	rand.Read(jti)
	header, err := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{t.x5c}})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss": t.Issuer, "sub": subject, "aud": t.Service,
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": hex.EncodeToString(jti), "access": access,
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, t.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := append(pad32(r), pad32(s)...) // JWS ES256: r||s, 32 bytes each
	return input + "." + enc.EncodeToString(sig), nil
}

func pad32(n *big.Int) []byte {
	b := make([]byte, 32)
	return n.FillBytes(b)
}

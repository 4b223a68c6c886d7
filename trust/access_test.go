package trust

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ceremony-dev/ceremony/internal/scratch"
	"github.com/ceremony-dev/ceremony/internal/testenv"
)

// The token issuer's accounts for the access tests: the shared owner,
// delegate and reader, and "partial", which may do everything except
// rotate keys on docker.io/alice/b.
var accessUsers = append(testenv.TokenAccounts().List(),
	scratch.TokenUser{Name: "partial", Password: "partial-pw", Actions: []string{"*"}, Repos: map[string][]string{"docker.io/alice/b": {"pull", "push"}}})

// tokenNotary is notary-server (memory storage) behind the scratch token
// issuer: the real token flow, started in about a second.
func tokenNotary(tb testing.TB) *scratch.Production {
	tb.Helper()
	testenv.Tool(tb, scratch.NotaryServerBinary)
	p, err := scratch.StartProduction(context.Background(), tb.TempDir(), scratch.ProductionOptions{Memory: true, Users: accessUsers})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Stop() })
	return p
}

// checkedClient is CheckServer's client for the account user.
func checkedClient(tb testing.TB, p *scratch.Production, user string) *Client {
	tb.Helper()
	var pass string
	for _, u := range accessUsers {
		if u.Name == user {
			pass = u.Password
		}
	}
	c, err := CheckServer(context.Background(), Config{URL: p.Server.URL, TLSCA: p.Server.CAFile,
		Auth: []byte(base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}

func guns(n int) []string {
	g := make([]string, n)
	for i := range g {
		g[i] = fmt.Sprintf("docker.io/alice/r%04d", i)
	}
	return g
}

func needs(rotate bool, guns ...string) []Access {
	a := make([]Access, len(guns))
	for i, g := range guns {
		a[i] = Access{GUN: g, RotateKeys: rotate}
	}
	return a
}

// TestCheckAccess asks the real token flow for what the ceremony will do
// and wants the one line that names the account, the first repository it
// may not do its part on, what it was granted and what it needs.
func TestCheckAccess(t *testing.T) {
	p := tokenNotary(t)
	abc := []string{"docker.io/alice/a", "docker.io/alice/b", "docker.io/alice/c"}
	many := append(guns(1000), "docker.io/alice/b")
	for _, tc := range []struct {
		name, user string
		need       []Access
		want       string // "" = allowed
		requests   int    // token requests the check makes
	}{
		{"owner rotates", "owner", needs(true, abc...), "", 1},
		{"delegate publishes", "delegate", needs(false, abc...), "", 1},
		{"delegate may not rotate", "delegate", needs(true, abc...),
			`the account "delegate" may not rotate keys on docker.io/alice/a (granted: pull,push), nor on 2 other repositories; notary.auth needs '*' on the ceremony's repositories`, 1},
		{"reader may not publish", "reader", needs(false, abc[:1]...),
			`the account "reader" may not publish to docker.io/alice/a (granted: pull); notary.auth needs push,pull on the ceremony's repositories`, 1},
		{"reader may not publish nor rotate", "reader", needs(true, abc[:2]...),
			`the account "reader" may not publish to docker.io/alice/a (granted: pull), nor to 1 other repository; notary.auth needs '*' on the ceremony's repositories`, 1},
		// The token server's rules are per repository: each is asked for.
		{"one repository refused", "partial", needs(true, abc...),
			`the account "partial" may not rotate keys on docker.io/alice/b (granted: pull,push); notary.auth needs '*' on the ceremony's repositories`, 1},
		{"the last of 1,001", "partial", needs(true, many...),
			`the account "partial" may not rotate keys on docker.io/alice/b (granted: pull,push);`, len(accessBatches(needs(true, many...), tokenQueryBudget))},
		{"nothing to publish", "reader", nil, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := checkedClient(t, p, tc.user)
			before := p.Tokens.Requests(tc.user)
			err := c.CheckAccess(context.Background(), tc.need)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
			if got := p.Tokens.Requests(tc.user) - before; got != tc.requests {
				t.Errorf("%d token requests, want %d", got, tc.requests)
			}
		})
	}
}

// TestCheckPublish is a delegate's check before it signs (ceremony sign):
// push and pull on the one repository, by CheckAccess's rule, asked of the
// real token flow by a client that has not talked to the server yet.
func TestCheckPublish(t *testing.T) {
	p := tokenNotary(t)
	for _, tc := range []struct {
		name, user, gun string
		want            string // "" = allowed
	}{
		{"owner", "owner", "docker.io/alice/a", ""},
		{"delegate", "delegate", "docker.io/alice/a", ""},
		// Pushing is all it needs: no '*' to rotate keys.
		{"partial on its push-only repository", "partial", "docker.io/alice/b", ""},
		{"reader", "reader", "docker.io/alice/a",
			`the account "reader" may not publish to docker.io/alice/a (granted: pull); --auth (or notary.auth of --config) needs push,pull on it`},
		{"anonymous", "", "docker.io/alice/a",
			"notary server " + p.Server.URL + " requires authentication to publish: give notary.auth (or --auth)"},
		{"bad GUN", "owner", "docker.io/Alice", "GUN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var auth []byte
			for _, u := range accessUsers {
				if u.Name == tc.user {
					auth = []byte(u.NotaryAuth())
				}
			}
			c, err := buildClient(Config{URL: p.Server.URL, TLSCA: p.Server.CAFile, Auth: auth})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.CheckPublish(context.Background(), tc.gun)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
				t.Fatalf("err = %v\nwant one line with %s", err, tc.want)
			}
		})
	}
}

// TestAccessBatches: each batch's scope parameters fit in the budget, and
// one repository too long for it still gets a batch of its own.
func TestAccessBatches(t *testing.T) {
	for _, tc := range []struct {
		n, budget int
		want      []int // batch sizes
	}{
		{0, tokenQueryBudget, nil},
		{100, tokenQueryBudget, []int{100}},
		{1000, tokenQueryBudget, []int{110, 110, 110, 110, 110, 110, 110, 110, 110, 10}},
		{3, 10, []int{1, 1, 1}},
	} {
		batches := accessBatches(needs(true, guns(tc.n)...), tc.budget)
		var sizes []int
		for _, b := range batches {
			sizes = append(sizes, len(b))
		}
		if fmt.Sprint(sizes) != fmt.Sprint(tc.want) {
			t.Errorf("%d repositories, budget %d: batches %v, want %v", tc.n, tc.budget, sizes, tc.want)
		}
	}
}

// TestTokenAccess reads the access claim; a token that is not a JWT cannot
// be read, and a JWT without the claim grants nothing.
func TestTokenAccess(t *testing.T) {
	jwt := func(claims string) string {
		enc := base64.RawURLEncoding
		return enc.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + enc.EncodeToString([]byte(claims)) + ".c2ln"
	}
	for _, tc := range []struct {
		name, token, want string
		ok                bool
	}{
		{"merged", jwt(`{"access":[{"type":"repository","name":"a","actions":["pull"]},{"type":"repository","name":"a","actions":["push"]},{"type":"registry","name":"catalog","actions":["*"]}]}`), "map[a:[pull push]]", true},
		{"no claim", jwt(`{"sub":"alice"}`), "map[]", true},
		{"opaque", "b3BhcXVlLXRva2Vu", "map[]", false},
		{"not JSON", jwt(`access`), "map[]", false},
	} {
		got, ok := tokenAccess(tc.token)
		if fmt.Sprint(got) != tc.want || ok != tc.ok {
			t.Errorf("%s: %v %v, want %s %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// BenchmarkCheckAccess asks for 100 repositories' scopes in one token
// request (CheckAccess) and, as the baseline in the same iteration, in one
// request per repository, against the scratch token issuer behind
// notary-server; it reports both in ms and their ratio per-repository/one.
func BenchmarkCheckAccess(b *testing.B) {
	p := tokenNotary(b)
	c := checkedClient(b, p, "owner")
	ctx := context.Background()
	need := needs(true, guns(100)...)
	mgr, _ := c.auth.get()
	var one, each time.Duration
	for b.Loop() {
		start := time.Now()
		if err := c.CheckAccess(ctx, need); err != nil {
			b.Fatal(err)
		}
		one += time.Since(start)
		start = time.Now()
		for _, a := range need {
			if _, _, err := c.grants(ctx, mgr, []Access{a}); err != nil {
				b.Fatal(err)
			}
		}
		each += time.Since(start)
	}
	n := float64(b.N)
	b.ReportMetric(one.Seconds()*1000/n, "ms/one-request")
	b.ReportMetric(each.Seconds()*1000/n, "ms/per-repository")
	b.ReportMetric(each.Seconds()/one.Seconds(), "per-repository/one")
}

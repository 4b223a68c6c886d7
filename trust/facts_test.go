package trust

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/theupdateframework/notary/storage"
)

// TestLostError: what notary reports of a server that went away in the
// middle of a request (seen against notary-server, notary-signer and
// PostgreSQL killed mid-publish: steps' TestProductionServerDies) gets what
// to do; anything else passes unchanged.
func TestLostError(t *testing.T) {
	const (
		brokeOff = "the notary server broke off the request (is it running?); once it answers, run again"
		failed   = "the notary server failed; bring back what its /_notary_server/health names (notary-signer, its database), then run again"
		signer   = "notary-server lost its notary-signer; once the signer is back, run again"
		refused  = "the notary server refused the connection (is it running?); once it answers, run again"
		noReason = "notary-server refused the update without a reason, as it does when its database or notary-signer fails while checking it; once its /_notary_server/health is 200, run again"
	)
	for _, tc := range []struct {
		name string
		err  error
		want string // "" = unchanged
	}{
		{"EOF in notary's network error", fmt.Errorf("read back: %w", storage.NetworkError{Wrapped: io.EOF}), brokeOff},
		{"reset in notary's network error", storage.NetworkError{Wrapped: syscall.ECONNRESET}, brokeOff},
		{"EOF in notary's text", errors.New("unable to rotate remote key: EOF"), brokeOff},
		{"reset in notary's text", errors.New("unable to rotate remote key: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"), brokeOff},
		{"refused in notary's network error", storage.NetworkError{Wrapped: fmt.Errorf("dial tcp 127.0.0.1:1: connect: %w", syscall.ECONNREFUSED)}, refused},
		{"refused in the text", errors.New("read back: dial tcp 127.0.0.1:46483: connect: connection refused"), refused},
		{"a 500", errors.New("unable to rotate remote key: unable to reach trust server at this time: 500."), failed},
		{"the signer gone", errors.New(`An error occurred during validation: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing dial tcp 127.0.0.1:3: connect: connection refused"`), signer},
		{"the signer going", errors.New("An error occurred during validation: rpc error: code = Unavailable desc = transport is closing"), signer},
		{"a 400 without a reason", storage.ErrInvalidOperation{}, noReason},
		{"a 400 without a reason in notary's text", fmt.Errorf("publish: %w", storage.ErrInvalidOperation{}), noReason},
		{"a 400 with a reason is not lost", errors.New("trust server rejected operation: new root has no valid signatures"), ""},
		{"a 404 is not lost", errors.New("unable to reach trust server at this time: 404."), ""},
		{"a bad signature is not lost", errors.New("root.json: signature verification failed"), ""},
		{"EOF inside a word is not lost", errors.New("unexpected NOEOF"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := accessError(tc.err)
			if !errors.Is(got, tc.err) && got != tc.err {
				t.Errorf("%v does not wrap %v", got, tc.err)
			}
			switch {
			case tc.want == "" && got.Error() != tc.err.Error():
				t.Errorf("got %q, want it unchanged", got)
			case tc.want != "" && got.Error() != tc.err.Error()+": "+tc.want:
				t.Errorf("got %q\nwant %q", got, tc.err.Error()+": "+tc.want)
			case strings.Contains(got.Error(), "\n"):
				t.Errorf("more than one line: %q", got)
			}
		})
	}
}

package clientapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ganglion/ganglion/config"
)

// TestRateLimit checks that a client over its burst gets 429
// M_LIMIT_EXCEEDED with a retry delay, per address before login and per
// user after, and is served again once the delay has passed. The clock
// stands still unless the test moves it, so buckets refill only then.
func TestRateLimit(t *testing.T) {
	const burst = 4
	configure := func(cfg *config.Config) {
		cfg.RateLimit = config.RateLimit{Enabled: true, PerSecond: 2, Burst: burst}
	}
	refill := burst * 500 * time.Millisecond
	eachServer(t, configure, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		s.Clock.Advance(refill)
		wantLimited := func(t *testing.T, r response) {
			t.Helper()
			wantErr(t, r, http.StatusTooManyRequests, "M_LIMIT_EXCEEDED")
			if ms, _ := r.Body["retry_after_ms"].(float64); ms <= 0 || ms > 500 {
				t.Fatalf("%s: got %s, want retry_after_ms in (0, 500]", r.Req, r.Raw)
			}
			if r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("%s: 429 lacks the CORS header", r.Req)
			}
		}
		t.Run("PerAddress", func(t *testing.T) {
			for range burst {
				wantErr(t, s.login(t, "alice", "wrong-password"), http.StatusForbidden, "M_FORBIDDEN")
			}
			devices := deviceIDs(t, s.DB, "alice")
			wantLimited(t, s.login(t, "alice", "alice-password"))
			wantLimited(t, s.register(t, "bob", "bob-password"))
			wantLimited(t, s.do(t, "POST", v3+"/refresh", "", map[string]any{"refresh_token": "x"}))
			wantDevices(t, s.DB, "alice", devices...)
			wantAccount(t, s.DB, "bob", false)
			// Authenticated requests count per user, not per address.
			s.wantToken(t, alice.Token, true)
			// Half a second brings one request back.
			s.Clock.Advance(500 * time.Millisecond)
			wantOK(t, s.login(t, "alice", "alice-password"))
			wantLimited(t, s.login(t, "alice", "alice-password"))
		})
		t.Run("PerUser", func(t *testing.T) {
			s.Clock.Advance(refill)
			bob := s.mustRegister(t, "bob", "bob-password")
			for range burst {
				wantOK(t, s.do(t, "GET", v3+"/account/whoami", alice.Token, nil))
			}
			wantLimited(t, s.do(t, "GET", v3+"/account/whoami", alice.Token, nil))
			r := s.do(t, "PUT", v3+"/profile/"+alice.ID+"/displayname", alice.Token, map[string]any{"displayname": "A"})
			wantLimited(t, r)
			wantErr(t, s.do(t, "GET", v3+"/profile/"+alice.ID+"/displayname", "", nil), http.StatusNotFound, "M_NOT_FOUND")
			wantOK(t, s.do(t, "GET", v3+"/account/whoami", bob.Token, nil))
			s.Clock.Advance(refill)
			wantOK(t, s.do(t, "GET", v3+"/account/whoami", alice.Token, nil))
		})
	})
}

package clientapi_test

import (
	"net/http"
	"testing"
)

// TestLegacyPaths: r0 paths answer as their v3 successors; unknown ones
// stay unrecognised.
func TestLegacyPaths(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		r := s.do(t, "GET", "/_matrix/client/r0/account/whoami", alice.Token, nil)
		wantOK(t, r)
		if r.str("user_id") != alice.ID {
			t.Errorf("r0 whoami: got %q, want %q", r.str("user_id"), alice.ID)
		}
		wantErr(t, s.do(t, "GET", "/_matrix/client/r0/nonsense", alice.Token, nil), http.StatusNotFound, "M_UNRECOGNIZED")
	})
}

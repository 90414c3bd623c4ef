package clientapi_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/config"
)

// TestAPI_RequestLog: at debug level every request logs a line with its
// id, method, path (never the query), status and, once authenticated, its
// user; every line a request logs carries the same fields.
func TestAPI_RequestLog(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		lines := &recordHook{}
		s.Log.AddHook(lines)
		s.Log.SetLevel(logrus.DebugLevel)
		s.do(t, "GET", v3+"/account/whoami?secret=x", alice.Token, nil)
		s.do(t, "GET", v3+"/account/whoami", "", nil)
		s.Log.SetLevel(logrus.WarnLevel)
		got := lines.taken()
		if len(got) != 2 {
			t.Fatalf("got %d log lines, want 2: %v", len(got), got)
		}
		for i, want := range []map[string]any{
			{"method": "GET", "path": v3 + "/account/whoami", "status": 200, "user_id": alice.ID},
			{"method": "GET", "path": v3 + "/account/whoami", "status": 401},
		} {
			e := got[i]
			if e.Message != "request" {
				t.Errorf("line %d: message %q, want request", i, e.Message)
			}
			for k, v := range want {
				if e.Data[k] != v {
					t.Errorf("line %d: %s is %v, want %v (%v)", i, k, e.Data[k], v, e.Data)
				}
			}
			if _, ok := e.Data["user_id"]; ok && want["user_id"] == nil {
				t.Errorf("line %d: a user_id without authentication: %v", i, e.Data)
			}
			if _, ok := e.Data["req_id"].(uint64); !ok {
				t.Errorf("line %d: no request id: %v", i, e.Data)
			}
		}
		if got[0].Data["req_id"] == got[1].Data["req_id"] {
			t.Errorf("two requests with one id %v", got[0].Data["req_id"])
		}
	})
}

// recordHook keeps the log lines written at debug level and above.
type recordHook struct {
	mu      sync.Mutex
	entries []*logrus.Entry
}

func (h *recordHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *recordHook) Fire(e *logrus.Entry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entries = append(h.entries, e)
	return nil
}

func (h *recordHook) taken() []*logrus.Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.entries
}

// TestAPI_Unrecognized checks that unknown paths are 404 and known paths
// with the wrong method 405, both M_UNRECOGNIZED.
func TestAPI_Unrecognized(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		t.Run("UnknownPath", func(t *testing.T) {
			for _, path := range []string{
				"/_matrix/client/v3/nonexistent",
				"/_matrix/client/r1/login",
				"/_matrix/client/v3/login/extra",
				"/_matrix/client/v3/profile/" + alice.ID + "/displayname/extra",
				"/_matrix/nothing",
				"/",
			} {
				wantErr(t, s.do(t, "GET", path, "", nil), http.StatusNotFound, "M_UNRECOGNIZED")
				wantErr(t, s.do(t, "POST", path, alice.Token, map[string]any{}), http.StatusNotFound, "M_UNRECOGNIZED")
			}
		})
		t.Run("UnknownProfileField", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v3+"/profile/"+alice.ID+"/status", "", nil), http.StatusNotFound, "M_UNRECOGNIZED")
			r := s.do(t, "PUT", v3+"/profile/"+alice.ID+"/status", alice.Token, map[string]any{"status": "x"})
			wantErr(t, r, http.StatusNotFound, "M_UNRECOGNIZED")
		})
		t.Run("WrongMethod", func(t *testing.T) {
			for _, c := range []struct{ method, path, allow string }{
				{"DELETE", "/_matrix/client/versions", "GET"},
				{"PUT", v3 + "/login", "POST"},
				{"GET", v3 + "/register", "POST"},
				{"POST", v3 + "/account/whoami", "GET"},
				{"PATCH", v3 + "/devices/ABC", "DELETE"},
			} {
				r := s.do(t, c.method, c.path, alice.Token, nil)
				wantErr(t, r, http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
				if allow := r.Header.Get("Allow"); !strings.Contains(allow, c.allow) {
					t.Errorf("%s: got Allow %q, want it to list %s", r.Req, allow, c.allow)
				}
			}
		})
		t.Run("WrongMethodNeedsNoToken", func(t *testing.T) {
			// Routing comes before authentication.
			r := s.do(t, "POST", v3+"/account/whoami", "", nil)
			wantErr(t, r, http.StatusMethodNotAllowed, "M_UNRECOGNIZED")
		})
	})
}

// TestAPI_CORS checks the CORS headers: on preflights of any path, and on
// successful and failed responses alike.
func TestAPI_CORS(t *testing.T) {
	wantCORS := func(t *testing.T, r response, origin string) {
		t.Helper()
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("%s: got Access-Control-Allow-Origin %q, want %q", r.Req, got, origin)
		}
		methods := r.Header.Get("Access-Control-Allow-Methods")
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "OPTIONS"} {
			if !strings.Contains(methods, m) {
				t.Errorf("%s: Access-Control-Allow-Methods %q lacks %s", r.Req, methods, m)
			}
		}
		headers := strings.ToLower(r.Header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"x-requested-with", "content-type", "authorization"} {
			if !strings.Contains(headers, h) {
				t.Errorf("%s: Access-Control-Allow-Headers %q lacks %s", r.Req, headers, h)
			}
		}
	}
	origin := map[string]string{"Origin": "https://app.example.org"}
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		t.Run("Preflight", func(t *testing.T) {
			for _, path := range []string{
				v3 + "/login", v3 + "/account/whoami", v3 + "/devices/ABC",
				v3 + "/no/such/endpoint", "/.well-known/matrix/client",
			} {
				r := s.doHeaders(t, "OPTIONS", path, "", nil, map[string]string{
					"Origin":                         "https://app.example.org",
					"Access-Control-Request-Method":  "POST",
					"Access-Control-Request-Headers": "Authorization, Content-Type",
				})
				if r.Status != http.StatusOK && r.Status != http.StatusNoContent {
					t.Errorf("%s: got %d %s, want 200", r.Req, r.Status, r.Raw)
				}
				wantCORS(t, r, "*")
			}
		})
		t.Run("Responses", func(t *testing.T) {
			for _, r := range []response{
				s.doHeaders(t, "GET", "/_matrix/client/versions", "", nil, origin),
				s.doHeaders(t, "GET", v3+"/account/whoami", alice.Token, nil, origin),
				s.doHeaders(t, "GET", v3+"/account/whoami", "", nil, origin),
				s.doHeaders(t, "GET", v3+"/account/whoami", "bogus", nil, origin),
				s.doHeaders(t, "POST", v3+"/login", "", rawBody("{"), origin),
				s.doHeaders(t, "GET", v3+"/nonexistent", "", nil, origin),
				s.doHeaders(t, "DELETE", v3+"/login", "", nil, origin),
				s.doHeaders(t, "POST", v3+"/register", "", map[string]any{}, origin), // 401 UIA
			} {
				wantCORS(t, r, "*")
			}
		})
	})
	configure := func(cfg *config.Config) { cfg.HTTP.CORSOrigins = []string{"https://app.example.org"} }
	eachServer(t, configure, func(t *testing.T, s *testServer) {
		t.Run("ListedOrigin", func(t *testing.T) {
			r := s.doHeaders(t, "GET", v3+"/account/whoami", "", nil, origin)
			wantErr(t, r, http.StatusUnauthorized, "M_MISSING_TOKEN")
			wantCORS(t, r, "https://app.example.org")
			if !slices.Contains(r.Header.Values("Vary"), "Origin") {
				t.Errorf("got Vary %q, want Origin", r.Header.Values("Vary"))
			}
		})
		t.Run("OtherOrigin", func(t *testing.T) {
			r := s.doHeaders(t, "OPTIONS", v3+"/login", "", nil, map[string]string{"Origin": "https://evil.example"})
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("got Access-Control-Allow-Origin %q, want none", got)
			}
		})
	})
}

// TestAPI_Discovery checks /versions, /capabilities and the well-known
// documents.
func TestAPI_Discovery(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		t.Run("Versions", func(t *testing.T) {
			r := s.do(t, "GET", "/_matrix/client/versions", "", nil)
			wantOK(t, r)
			versions, _ := r.Body["versions"].([]any)
			if !slices.Contains(versions, any("v1.1")) {
				t.Errorf("got versions %v, want v1.1 among them", versions)
			}
			if _, ok := r.Body["unstable_features"].(map[string]any); !ok {
				t.Errorf("got %s, want unstable_features an object", r.Raw)
			}
		})
		t.Run("CapabilitiesNeedAuth", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v3+"/capabilities", "", nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
			wantSoftLogout(t, s.do(t, "GET", v3+"/capabilities", "bogus", nil), false)
		})
		t.Run("Capabilities", func(t *testing.T) {
			alice := s.mustRegister(t, "alice", "alice-password")
			r := s.do(t, "GET", v3+"/capabilities", alice.Token, nil)
			wantOK(t, r)
			caps, _ := r.Body["capabilities"].(map[string]any)
			pw, _ := caps["m.change_password"].(map[string]any)
			if pw["enabled"] != true {
				t.Errorf("got %s, want m.change_password enabled", r.Raw)
			}
		})
		t.Run("WellKnownUnconfigured", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", "/.well-known/matrix/client", "", nil), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "GET", "/.well-known/matrix/server", "", nil), http.StatusNotFound, "M_NOT_FOUND")
		})
	})
	configure := func(cfg *config.Config) {
		cfg.WellKnown.ClientBaseURL = "https://matrix.example.org"
		cfg.WellKnown.ServerDelegation = "matrix.example.org:443"
	}
	eachServer(t, configure, func(t *testing.T, s *testServer) {
		r := s.do(t, "GET", "/.well-known/matrix/client", "", nil)
		wantOK(t, r)
		hs, _ := r.Body["m.homeserver"].(map[string]any)
		if hs["base_url"] != "https://matrix.example.org" {
			t.Errorf("got %s, want m.homeserver.base_url https://matrix.example.org", r.Raw)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("got Content-Type %q, want application/json", ct)
		}
		r = s.do(t, "GET", "/.well-known/matrix/server", "", nil)
		wantOK(t, r)
		if r.Body["m.server"] != "matrix.example.org:443" {
			t.Errorf("got %s, want m.server matrix.example.org:443", r.Raw)
		}
	})
}

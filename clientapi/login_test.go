package clientapi_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/ganglion/ganglion/config"
)

// TestLogin_Password checks password login with every way of naming the
// user, and that every failure looks the same.
func TestLogin_Password(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		t.Run("Flows", func(t *testing.T) {
			r := s.do(t, "GET", v3+"/login", "", nil)
			wantOK(t, r)
			flows, _ := r.Body["flows"].([]any)
			types := map[string]map[string]any{}
			for _, f := range flows {
				flow, _ := f.(map[string]any)
				typ, _ := flow["type"].(string)
				types[typ] = flow
			}
			if types["m.login.password"] == nil || types["m.login.token"] == nil {
				t.Fatalf("got %s, want m.login.password and m.login.token", r.Raw)
			}
			if types["m.login.token"]["get_login_token"] != true {
				t.Fatalf("got %s, want m.login.token with get_login_token", r.Raw)
			}
		})
		t.Run("Identifiers", func(t *testing.T) {
			for name, body := range map[string]map[string]any{
				"Localpart": {"identifier": map[string]any{"type": "m.id.user", "user": "alice"}},
				"FullID":    {"identifier": map[string]any{"type": "m.id.user", "user": alice.ID}},
				"UpperCase": {"identifier": map[string]any{"type": "m.id.user", "user": "@ALICE:" + serverName}},
				"UserField": {"user": "alice"},
				"UserFull":  {"user": alice.ID},
			} {
				body["type"] = "m.login.password"
				body["password"] = "alice-password"
				r := s.do(t, "POST", v3+"/login", "", body)
				if r.Status != http.StatusOK || r.str("user_id") != alice.ID || r.str("access_token") == "" {
					t.Fatalf("%s: got %d %s, want a login as %s", name, r.Status, r.Raw, alice.ID)
				}
				if r.str("home_server") != serverName || r.str("device_id") == "" {
					t.Errorf("%s: got %s, want home_server and device_id", name, r.Raw)
				}
				s.wantToken(t, r.str("access_token"), true)
			}
		})
		t.Run("FailuresLookAlike", func(t *testing.T) {
			before := deviceIDs(t, s.DB, "alice")
			var first []byte
			for _, who := range []struct{ user, password string }{
				{"alice", "wrong-password"},
				{alice.ID, "wrong-password"},
				{"alice", ""},
				{"nobody", "alice-password"},
				{"@nobody:" + serverName, "alice-password"},
				{"@alice:elsewhere.example", "alice-password"},
				{"@alice", "alice-password"},
			} {
				r := s.login(t, who.user, who.password)
				wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
				if first == nil {
					first = r.Raw
				} else if !bytes.Equal(r.Raw, first) {
					t.Errorf("login %s: got %s, want the same body as %s", who.user, r.Raw, first)
				}
			}
			wantDevices(t, s.DB, "alice", before...)
		})
		t.Run("BadRequests", func(t *testing.T) {
			for _, c := range []struct {
				body    map[string]any
				errcode string
			}{
				{map[string]any{"type": "m.login.sso", "user": "alice"}, "M_UNKNOWN"},
				{map[string]any{"type": "org.example.login", "user": "alice", "password": "alice-password"}, "M_UNKNOWN"},
				{map[string]any{"user": "alice", "password": "alice-password"}, "M_MISSING_PARAM"},
				{map[string]any{"type": "m.login.password", "password": "alice-password"}, "M_MISSING_PARAM"},
				{map[string]any{
					"type": "m.login.password", "password": "alice-password",
					"identifier": map[string]any{"type": "m.id.phone", "country": "GB", "phone": "123"},
				}, "M_UNKNOWN"},
				{map[string]any{"type": "m.login.token"}, "M_MISSING_PARAM"},
			} {
				wantErr(t, s.do(t, "POST", v3+"/login", "", c.body), http.StatusBadRequest, c.errcode)
			}
		})
		t.Run("DeviceID", func(t *testing.T) {
			// Logging in again with a device id replaces the device's
			// session: its old token stops working.
			body := map[string]any{
				"type": "m.login.password", "user": "alice", "password": "alice-password",
				"device_id": "PHONE", "initial_device_display_name": "Alice's phone",
			}
			first := s.do(t, "POST", v3+"/login", "", body)
			wantOK(t, first)
			s.wantToken(t, first.str("access_token"), true)
			body["initial_device_display_name"] = "Renamed?"
			second := s.do(t, "POST", v3+"/login", "", body)
			wantOK(t, second)
			if first.str("device_id") != "PHONE" || second.str("device_id") != "PHONE" {
				t.Fatalf("got devices %s and %s, want PHONE", first.str("device_id"), second.str("device_id"))
			}
			s.wantToken(t, first.str("access_token"), false)
			s.wantToken(t, second.str("access_token"), true)
			r := s.do(t, "GET", v3+"/devices/PHONE", second.str("access_token"), nil)
			wantOK(t, r)
			if r.Body["display_name"] != "Alice's phone" {
				t.Fatalf("got %s, want the first display name kept", r.Raw)
			}
		})
	})
}

// getLoginToken asks for an m.login.token through user-interactive auth.
func (s *testServer) getLoginToken(t *testing.T, u user) response {
	t.Helper()
	session := wantChallenge(t, s.do(t, "POST", v1+"/login/get_token", u.Token, map[string]any{}), "", "m.login.password")
	return s.do(t, "POST", v1+"/login/get_token", u.Token, map[string]any{"auth": passwordAuth(u, u.Password, session)})
}

// TestLogin_Token checks m.login.token through POST /login/get_token.
func TestLogin_Token(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		tokenLogin := func(token string) response {
			return s.do(t, "POST", v3+"/login", "", map[string]any{"type": "m.login.token", "token": token})
		}
		t.Run("NeedsAuth", func(t *testing.T) {
			wantErr(t, s.do(t, "POST", v1+"/login/get_token", "", map[string]any{}), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
		t.Run("Once", func(t *testing.T) {
			r := s.getLoginToken(t, alice)
			wantOK(t, r)
			token := r.str("login_token")
			if ms, _ := r.Body["expires_in_ms"].(float64); token == "" || ms != float64(s.Cfg.Auth.LoginTokenLifetime.Milliseconds()) {
				t.Fatalf("got %s, want a login token and expires_in_ms %d", r.Raw, s.Cfg.Auth.LoginTokenLifetime.Milliseconds())
			}
			r = tokenLogin(token)
			wantOK(t, r)
			if r.str("user_id") != alice.ID || r.str("device_id") == alice.DeviceID {
				t.Fatalf("got %s, want a new device of %s", r.Raw, alice.ID)
			}
			s.wantToken(t, r.str("access_token"), true)
			devices := deviceIDs(t, s.DB, "alice")
			wantErr(t, tokenLogin(token), http.StatusForbidden, "M_FORBIDDEN")
			wantDevices(t, s.DB, "alice", devices...)
		})
		t.Run("Expired", func(t *testing.T) {
			r := s.getLoginToken(t, alice)
			wantOK(t, r)
			s.Clock.Advance(s.Cfg.Auth.LoginTokenLifetime)
			wantErr(t, tokenLogin(r.str("login_token")), http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("Unknown", func(t *testing.T) {
			wantErr(t, tokenLogin("gll_not-a-token"), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, tokenLogin(alice.Token), http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("WrongPassword", func(t *testing.T) {
			r := s.do(t, "POST", v1+"/login/get_token", alice.Token, map[string]any{
				"auth": passwordAuth(alice, "wrong-password", ""),
			})
			wantChallenge(t, r, "M_FORBIDDEN", "m.login.password")
		})
	})
}

// TestLogin_Refresh checks refresh tokens: issue, rotation, revocation of
// the old refresh token, and expiry of access tokens.
func TestLogin_Refresh(t *testing.T) {
	const lifetime = 5 * time.Minute
	configure := func(cfg *config.Config) { cfg.Auth.AccessTokenLifetime = lifetime }
	eachServer(t, configure, func(t *testing.T, s *testServer) {
		s.mustRegister(t, "alice", "alice-password")
		refresh := func(token string) response {
			return s.do(t, "POST", v3+"/refresh", "", map[string]any{"refresh_token": token})
		}
		wantPair := func(t *testing.T, r response) (access, refresh string) {
			t.Helper()
			wantOK(t, r)
			if ms, _ := r.Body["expires_in_ms"].(float64); ms != float64(lifetime.Milliseconds()) {
				t.Fatalf("%s: got %s, want expires_in_ms %d", r.Req, r.Raw, lifetime.Milliseconds())
			}
			access, refresh = r.str("access_token"), r.str("refresh_token")
			if access == "" || refresh == "" || access == refresh {
				t.Fatalf("%s: got %s, want new access and refresh tokens", r.Req, r.Raw)
			}
			return access, refresh
		}
		login := func(t *testing.T) (access, refresh string) {
			t.Helper()
			return wantPair(t, s.do(t, "POST", v3+"/login", "", map[string]any{
				"type": "m.login.password", "user": "alice", "password": "alice-password", "refresh_token": true,
			}))
		}
		t.Run("NotAsked", func(t *testing.T) {
			r := s.login(t, "alice", "alice-password")
			wantOK(t, r)
			if _, ok := r.Body["refresh_token"]; ok {
				t.Fatalf("got %s, want no refresh token unless asked", r.Raw)
			}
			if _, ok := r.Body["expires_in_ms"]; ok {
				t.Fatalf("got %s, want no expiry without a refresh token", r.Raw)
			}
			s.Clock.Advance(2 * lifetime)
			s.wantToken(t, r.str("access_token"), true)
		})
		t.Run("Rotation", func(t *testing.T) {
			a1, r1 := login(t)
			s.wantToken(t, a1, true)
			a2, r2 := wantPair(t, refresh(r1))
			s.wantToken(t, a2, true)
			a3, r3 := wantPair(t, refresh(r2))
			s.wantToken(t, a3, true)
			// r2 was used, so r1 is gone; r2 itself stays usable until
			// r3 or a3 is used.
			wantSoftLogout(t, refresh(r1), false)
			_, r4 := wantPair(t, refresh(r3))
			wantSoftLogout(t, refresh(r2), false)
			wantSoftLogout(t, refresh(r1), false)
			wantSoftLogout(t, refresh(a3), false) // an access token is not a refresh token
			s.wantToken(t, r4, false)             // nor the other way round
		})
		t.Run("Retry", func(t *testing.T) {
			// A client that lost the answer to a refresh retries with the
			// same token: the pair it never saw is revoked.
			_, r1 := login(t)
			lostAccess, lostRefresh := wantPair(t, refresh(r1))
			a2, _ := wantPair(t, refresh(r1))
			s.wantToken(t, lostAccess, false)
			wantSoftLogout(t, refresh(lostRefresh), false)
			s.wantToken(t, a2, true)
		})
		t.Run("Expiry", func(t *testing.T) {
			a1, r1 := login(t)
			s.wantToken(t, a1, true) // cached from here on
			s.Clock.Advance(lifetime - time.Millisecond)
			s.wantToken(t, a1, true)
			s.Clock.Advance(time.Millisecond)
			wantSoftLogout(t, s.do(t, "GET", v3+"/account/whoami", a1, nil), true)
			a2, _ := wantPair(t, refresh(r1))
			s.wantToken(t, a2, true)
			wantSoftLogout(t, s.do(t, "GET", v3+"/account/whoami", a1, nil), false)
		})
		t.Run("Logout", func(t *testing.T) {
			a1, r1 := login(t)
			wantOK(t, s.do(t, "POST", v3+"/logout", a1, nil))
			wantSoftLogout(t, refresh(r1), false)
		})
		t.Run("BadRequests", func(t *testing.T) {
			wantSoftLogout(t, refresh("glr_unknown"), false)
			wantErr(t, s.do(t, "POST", v3+"/refresh", "", map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
			wantErr(t, s.do(t, "POST", v3+"/refresh", "", map[string]any{"refresh_token": 5}), http.StatusBadRequest, "M_BAD_JSON")
		})
	})
}

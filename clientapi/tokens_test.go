package clientapi_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestAuth_AccessToken checks how requests carry access tokens.
func TestAuth_AccessToken(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		whoami := v3 + "/account/whoami"
		t.Run("Missing", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", whoami, "", nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
			r := s.doHeaders(t, "GET", whoami, "", nil, map[string]string{"Authorization": "Basic YWxpY2U6cGFzcw=="})
			wantErr(t, r, http.StatusUnauthorized, "M_MISSING_TOKEN")
			r = s.doHeaders(t, "GET", whoami, "", nil, map[string]string{"Authorization": "Bearer"})
			wantErr(t, r, http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
		t.Run("Unknown", func(t *testing.T) {
			for _, token := range []string{"gla_unknown", alice.Token + "x", alice.Token[:len(alice.Token)-1], "x"} {
				wantSoftLogout(t, s.do(t, "GET", whoami, token, nil), false)
			}
		})
		t.Run("Header", func(t *testing.T) {
			r := s.do(t, "GET", whoami, alice.Token, nil)
			wantOK(t, r)
			if r.str("user_id") != alice.ID || r.str("device_id") != alice.DeviceID || r.Body["is_guest"] != false {
				t.Fatalf("got %s, want %s on %s", r.Raw, alice.ID, alice.DeviceID)
			}
			r = s.doHeaders(t, "GET", whoami, "", nil, map[string]string{"Authorization": "bearer " + alice.Token})
			wantOK(t, r)
		})
		t.Run("QueryParameter", func(t *testing.T) {
			r := s.do(t, "GET", whoami+"?access_token="+url.QueryEscape(alice.Token), "", nil)
			wantOK(t, r)
			if r.str("user_id") != alice.ID {
				t.Fatalf("got %s, want %s", r.Raw, alice.ID)
			}
			wantSoftLogout(t, s.do(t, "GET", whoami+"?access_token=gla_unknown", "", nil), false)
		})
	})
}

// TestAuth_Logout checks that logging out revokes tokens at once, although
// sessions are cached.
func TestAuth_Logout(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		t.Run("One", func(t *testing.T) {
			phone := s.mustLogin(t, "alice", "alice-password")
			s.wantToken(t, phone.Token, true) // now cached
			wantOK(t, s.do(t, "POST", v3+"/logout", phone.Token, map[string]any{}))
			s.wantToken(t, phone.Token, false)
			wantSoftLogout(t, s.do(t, "POST", v3+"/logout", phone.Token, nil), false)
			s.wantToken(t, alice.Token, true)
			wantDevices(t, s.DB, "alice", alice.DeviceID)
		})
		t.Run("All", func(t *testing.T) {
			phone := s.mustLogin(t, "alice", "alice-password")
			laptop := s.mustLogin(t, "alice", "alice-password")
			bob := s.mustRegister(t, "bob", "bob-password")
			for _, u := range []user{alice, phone, laptop} {
				s.wantToken(t, u.Token, true)
			}
			wantOK(t, s.do(t, "POST", v3+"/logout/all", laptop.Token, nil))
			for _, u := range []user{alice, phone, laptop} {
				s.wantToken(t, u.Token, false)
			}
			wantDevices(t, s.DB, "alice")
			s.wantToken(t, bob.Token, true)
			s.wantLogin(t, "alice", "alice-password", true)
		})
	})
}

// TestAuth_DeleteDevice checks that deleting a device revokes its token at
// once and leaves the others.
func TestAuth_DeleteDevice(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		phone := s.mustLogin(t, "alice", "alice-password")
		laptop := s.mustLogin(t, "alice", "alice-password")
		bob := s.mustRegister(t, "bob", "bob-password")
		for _, u := range []user{alice, phone, laptop, bob} {
			s.wantToken(t, u.Token, true)
		}
		t.Run("One", func(t *testing.T) {
			r := s.do(t, "DELETE", v3+"/devices/"+phone.DeviceID, alice.Token,
				map[string]any{"auth": passwordAuth(alice, "alice-password", "")})
			wantOK(t, r)
			s.wantToken(t, phone.Token, false)
			s.wantToken(t, alice.Token, true)
			s.wantToken(t, laptop.Token, true)
			wantDevices(t, s.DB, "alice", alice.DeviceID, laptop.DeviceID)
		})
		t.Run("Unknown", func(t *testing.T) {
			r := s.do(t, "DELETE", v3+"/devices/NOSUCHDEVICE", alice.Token,
				map[string]any{"auth": passwordAuth(alice, "alice-password", "")})
			wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("UnknownRename", func(t *testing.T) {
			r := s.do(t, "PUT", v3+"/devices/NOSUCHDEVICE", alice.Token, map[string]any{"display_name": "x"})
			wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "GET", v3+"/devices/NOSUCHDEVICE", alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "GET", v3+"/devices/"+bob.DeviceID, alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			r = s.do(t, "PUT", v3+"/devices/"+bob.DeviceID, alice.Token, map[string]any{"display_name": "x"})
			wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
			wantDevices(t, s.DB, "alice", alice.DeviceID, laptop.DeviceID)
		})
		t.Run("OtherUsersDevice", func(t *testing.T) {
			// Device ids are per user: bob's id names no device of alice.
			r := s.do(t, "DELETE", v3+"/devices/"+bob.DeviceID, alice.Token,
				map[string]any{"auth": passwordAuth(alice, "alice-password", "")})
			wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
			r = s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{
				"devices": []string{bob.DeviceID}, "auth": passwordAuth(alice, "alice-password", ""),
			})
			wantOK(t, r)
			s.wantToken(t, bob.Token, true)
			wantDevices(t, s.DB, "bob", bob.DeviceID)
		})
		t.Run("Several", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/delete_devices", laptop.Token, map[string]any{
				"devices": []string{alice.DeviceID, laptop.DeviceID}, "auth": passwordAuth(alice, "alice-password", ""),
			})
			wantOK(t, r)
			s.wantToken(t, alice.Token, false)
			s.wantToken(t, laptop.Token, false)
			wantDevices(t, s.DB, "alice")
		})
		t.Run("MissingList", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/delete_devices", bob.Token, map[string]any{"auth": passwordAuth(bob, "bob-password", "")})
			wantErr(t, r, http.StatusBadRequest, "M_MISSING_PARAM")
			wantDevices(t, s.DB, "bob", bob.DeviceID)
		})
	})
}

// TestAuth_ChangePassword checks that a password change logs out the other
// devices unless asked not to, and never the current one.
func TestAuth_ChangePassword(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		change := func(u user, oldPassword, newPassword string, extra map[string]any) response {
			body := map[string]any{"new_password": newPassword, "auth": passwordAuth(u, oldPassword, "")}
			for k, v := range extra {
				body[k] = v
			}
			return s.do(t, "POST", v3+"/account/password", u.Token, body)
		}
		t.Run("LogsOutOthers", func(t *testing.T) {
			phone := s.mustLogin(t, "alice", "alice-password")
			s.wantToken(t, phone.Token, true)
			wantOK(t, change(alice, "alice-password", "second-password", nil))
			s.wantToken(t, alice.Token, true)
			s.wantToken(t, phone.Token, false)
			wantDevices(t, s.DB, "alice", alice.DeviceID)
			s.wantLogin(t, "alice", "alice-password", false)
			s.wantLogin(t, "alice", "second-password", true)
		})
		t.Run("KeepDevices", func(t *testing.T) {
			phone := s.mustLogin(t, "alice", "second-password")
			wantOK(t, change(alice, "second-password", "third-password", map[string]any{"logout_devices": false}))
			s.wantToken(t, alice.Token, true)
			s.wantToken(t, phone.Token, true)
			wantDevices(t, s.DB, "alice", alice.DeviceID, phone.DeviceID)
			s.wantLogin(t, "alice", "third-password", true)
		})
		t.Run("Refused", func(t *testing.T) {
			for _, c := range []struct {
				password string
				status   int
				errcode  string
			}{
				{"short", 400, "M_WEAK_PASSWORD"},
				{"", 400, "M_MISSING_PARAM"},
			} {
				wantErr(t, change(alice, "third-password", c.password, nil), c.status, c.errcode)
			}
			s.wantLogin(t, "alice", "third-password", true)
		})
	})
}

// TestAuth_Deactivate checks that deactivation revokes every token of the
// account and that it cannot log in again.
func TestAuth_Deactivate(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		phone := s.mustLogin(t, "alice", "alice-password")
		bob := s.mustRegister(t, "bob", "bob-password")
		refresh := s.do(t, "POST", v3+"/login", "", map[string]any{
			"type": "m.login.password", "user": "alice", "password": "alice-password", "refresh_token": true,
		})
		wantOK(t, refresh)
		loginToken := s.getLoginToken(t, alice)
		wantOK(t, loginToken)
		for _, u := range []user{alice, phone} {
			s.wantToken(t, u.Token, true)
		}

		r := s.do(t, "POST", v3+"/account/deactivate", phone.Token,
			map[string]any{"auth": passwordAuth(alice, "alice-password", "")})
		wantOK(t, r)
		for _, token := range []string{alice.Token, phone.Token, refresh.str("access_token")} {
			s.wantToken(t, token, false)
		}
		wantSoftLogout(t, s.do(t, "POST", v3+"/refresh", "", map[string]any{"refresh_token": refresh.str("refresh_token")}), false)
		r = s.do(t, "POST", v3+"/login", "", map[string]any{"type": "m.login.token", "token": loginToken.str("login_token")})
		wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
		r = s.login(t, "alice", "alice-password")
		if r.Status != http.StatusForbidden || (r.str("errcode") != "M_FORBIDDEN" && r.str("errcode") != "M_USER_DEACTIVATED") {
			t.Fatalf("login after deactivation: got %d %s, want 403", r.Status, r.Raw)
		}
		wantDevices(t, s.DB, "alice")
		s.wantToken(t, bob.Token, true)
	})
}

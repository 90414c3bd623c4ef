package clientapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage"
)

// mustCompletedSession stores a UIA session for endpoint whose password
// stage localpart has completed, as if a request had failed after it.
func mustCompletedSession(t *testing.T, db *storage.DB, id, endpoint, localpart string) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		if err := tx.InsertUIASession(ctx, id, endpoint); err != nil {
			return err
		}
		return tx.UpdateUIASession(ctx, storage.UIASession{
			ID: id, Endpoint: endpoint, Localpart: localpart, Completed: []string{"m.login.password"},
		})
	})
}

// TestUIA_Challenge checks the first answer of user-interactive auth.
func TestUIA_Challenge(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		for _, r := range []response{
			s.do(t, "POST", v3+"/register", "", map[string]any{"username": "bob", "password": "bob-password"}),
			s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{"devices": []string{alice.DeviceID}}),
			s.do(t, "DELETE", v3+"/devices/"+alice.DeviceID, alice.Token, nil),
			s.do(t, "POST", v3+"/account/password", alice.Token, map[string]any{"new_password": "new-password"}),
			s.do(t, "POST", v3+"/account/deactivate", alice.Token, map[string]any{}),
			s.do(t, "POST", v1+"/login/get_token", alice.Token, map[string]any{}),
		} {
			stage := "m.login.password"
			if r.Req == "POST "+v3+"/register" {
				stage = "m.login.dummy"
			}
			wantChallenge(t, r, "", stage)
			if _, ok := r.Body["error"]; ok {
				t.Errorf("%s: got %s, want no error in the first challenge", r.Req, r.Raw)
			}
			if completed, ok := r.Body["completed"].([]any); ok && len(completed) != 0 {
				t.Errorf("%s: got completed %v, want none", r.Req, completed)
			}
		}
		wantAccount(t, s.DB, "bob", false)
		wantDevices(t, s.DB, "alice", alice.DeviceID)
		s.wantLogin(t, "alice", "alice-password", true)
		s.wantToken(t, alice.Token, true)
	})
}

// TestUIA_WrongPassword checks that a wrong password in the password stage
// is a 401 with M_FORBIDDEN and the flows, and changes nothing.
func TestUIA_WrongPassword(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		phone := s.mustLogin(t, "alice", "alice-password")
		bob := s.mustRegister(t, "bob", "bob-password")
		auths := map[string]map[string]any{
			"WrongPassword":   passwordAuth(alice, "wrong-password", ""),
			"OtherUsersLogin": passwordAuth(bob, "bob-password", ""),
			"UnknownUser":     passwordAuth(user{ID: userID("nobody")}, "alice-password", ""),
			"RemoteUser":      passwordAuth(user{ID: "@alice:elsewhere.example"}, "alice-password", ""),
		}
		for name, auth := range auths {
			t.Run(name, func(t *testing.T) {
				for _, r := range []response{
					s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{"devices": []string{phone.DeviceID}, "auth": auth}),
					s.do(t, "DELETE", v3+"/devices/"+phone.DeviceID, alice.Token, map[string]any{"auth": auth}),
					s.do(t, "POST", v3+"/account/password", alice.Token, map[string]any{"new_password": "new-password", "auth": auth}),
					s.do(t, "POST", v3+"/account/deactivate", alice.Token, map[string]any{"auth": auth}),
					s.do(t, "POST", v1+"/login/get_token", alice.Token, map[string]any{"auth": auth}),
				} {
					if name == "OtherUsersLogin" {
						// Another user's valid credentials are no failed attempt to
						// retry: the request itself is forbidden.
						wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
						continue
					}
					wantChallenge(t, r, "M_FORBIDDEN", "m.login.password")
				}
				wantDevices(t, s.DB, "alice", alice.DeviceID, phone.DeviceID)
				s.wantToken(t, phone.Token, true)
				s.wantLogin(t, "alice", "alice-password", true)
				s.wantLogin(t, "alice", "new-password", false)
				s.wantLogin(t, "bob", "bob-password", true)
				s.wantToken(t, bob.Token, true)
			})
		}
		t.Run("SessionGoesOn", func(t *testing.T) {
			// After a wrong password the client retries in the same
			// session with the right one.
			r := s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{
				"devices": []string{phone.DeviceID}, "auth": passwordAuth(alice, "wrong-password", ""),
			})
			session := wantChallenge(t, r, "M_FORBIDDEN", "m.login.password")
			r = s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{
				"devices": []string{phone.DeviceID}, "auth": passwordAuth(alice, "alice-password", session),
			})
			wantOK(t, r)
			wantDevices(t, s.DB, "alice", alice.DeviceID)
			s.wantToken(t, phone.Token, false)
		})
	})
}

// TestUIA_Replay checks that a completed session authorises one request
// only.
func TestUIA_Replay(t *testing.T) {
	t.Run("Register", func(t *testing.T) {
		configure := func(cfg *config.Config) { cfg.Registration.Mode = config.RegistrationToken }
		eachServer(t, configure, func(t *testing.T, s *testServer) {
			mustRegistrationToken(t, s.DB, "many", 0, nil)
			body := map[string]any{"username": "alice", "password": "good-password"}
			session := wantChallenge(t, s.do(t, "POST", v3+"/register", "", body), "", "m.login.registration_token")
			body["auth"] = map[string]any{"type": "m.login.registration_token", "token": "many", "session": session}
			wantOK(t, s.do(t, "POST", v3+"/register", "", body))

			r := s.do(t, "POST", v3+"/register", "", map[string]any{
				"username": "bob", "password": "good-password", "auth": map[string]any{"session": session},
			})
			if fresh := wantChallenge(t, r, "", "m.login.registration_token"); fresh == session {
				t.Fatalf("got the used session %s again, want a new one", session)
			}
			wantAccount(t, s.DB, "bob", false)
			rt, err := s.DB.RegistrationToken(t.Context(), "many")
			if err != nil || rt.Completed != 1 || rt.Pending != 0 {
				t.Fatalf("got token %+v, %v, want completed 1, pending 0", rt, err)
			}
		})
	})
	t.Run("DeleteDevices", func(t *testing.T) {
		eachServer(t, nil, func(t *testing.T, s *testServer) {
			alice := s.mustRegister(t, "alice", "alice-password")
			phone := s.mustLogin(t, "alice", "alice-password")
			laptop := s.mustLogin(t, "alice", "alice-password")
			r := s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{"devices": []string{phone.DeviceID}})
			session := wantChallenge(t, r, "", "m.login.password")
			r = s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{
				"devices": []string{phone.DeviceID}, "auth": passwordAuth(alice, "alice-password", session),
			})
			wantOK(t, r)
			wantDevices(t, s.DB, "alice", alice.DeviceID, laptop.DeviceID)

			r = s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{
				"devices": []string{laptop.DeviceID}, "auth": map[string]any{"session": session},
			})
			if fresh := wantChallenge(t, r, "", "m.login.password"); fresh == session {
				t.Fatalf("got the used session %s again, want a new one", session)
			}
			wantDevices(t, s.DB, "alice", alice.DeviceID, laptop.DeviceID)
			s.wantToken(t, laptop.Token, true)
		})
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Eight requests race with one completed session: one wins.
		eachServer(t, nil, func(t *testing.T, s *testServer) {
			alice := s.mustRegister(t, "alice", "alice-password")
			const n = 8
			devices := make([]string, n)
			for i := range devices {
				devices[i] = s.mustLogin(t, "alice", "alice-password").DeviceID
			}
			mustCompletedSession(t, s.DB, "racing", "POST "+v3+"/delete_devices", "alice")
			results := race(t, s, n, func(ctx context.Context, i int) (response, error) {
				return s.send(ctx, "POST", v3+"/delete_devices", alice.Token, map[string]any{
					"devices": []string{devices[i]}, "auth": map[string]any{"session": "racing"},
				}, nil)
			})
			// the losers get a new 401 challenge or 403
			won := winners(t, results, outcome{http.StatusUnauthorized, ""}, outcome{http.StatusForbidden, "M_FORBIDDEN"})
			if len(won) != 1 {
				t.Fatalf("got %d deletions with one session, want 1", len(won))
			}
			if got := len(deviceIDs(t, s.DB, "alice")); got != n {
				t.Fatalf("got %d devices left, want %d", got, n)
			}
		})
	})
}

// TestUIA_SessionScope checks that a completed session authorises only the
// request it was started for, by the user who completed it, within its
// lifetime.
func TestUIA_SessionScope(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		bob := s.mustRegister(t, "bob", "bob-password")
		bobPhone := s.mustLogin(t, "bob", "bob-password")
		deleteDevices := "POST " + v3 + "/delete_devices"
		mustCompletedSession(t, s.DB, "alice-delete", deleteDevices, "alice")

		t.Run("OtherEndpoint", func(t *testing.T) {
			for _, r := range []response{
				s.do(t, "POST", v3+"/account/deactivate", alice.Token, map[string]any{"auth": map[string]any{"session": "alice-delete"}}),
				s.do(t, "POST", v3+"/account/password", alice.Token, map[string]any{
					"new_password": "new-password", "auth": map[string]any{"session": "alice-delete"},
				}),
				s.do(t, "POST", v1+"/login/get_token", alice.Token, map[string]any{"auth": map[string]any{"session": "alice-delete"}}),
				s.do(t, "DELETE", v3+"/devices/"+alice.DeviceID, alice.Token, map[string]any{"auth": map[string]any{"session": "alice-delete"}}),
			} {
				if fresh := wantChallenge(t, r, "", "m.login.password"); fresh == "alice-delete" {
					t.Fatalf("%s: session for %s accepted", r.Req, deleteDevices)
				}
			}
			r := s.do(t, "POST", v3+"/register", "", map[string]any{
				"username": "carol", "password": "good-password", "auth": map[string]any{"session": "alice-delete"},
			})
			wantChallenge(t, r, "", "m.login.dummy")
			wantAccount(t, s.DB, "carol", false)
			s.wantLogin(t, "alice", "alice-password", true)
			wantDevices(t, s.DB, "alice", alice.DeviceID)
		})
		t.Run("OtherUser", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/delete_devices", bob.Token, map[string]any{
				"devices": []string{bobPhone.DeviceID}, "auth": map[string]any{"session": "alice-delete"},
			})
			wantChallenge(t, r, "", "m.login.password")
			wantDevices(t, s.DB, "bob", bob.DeviceID, bobPhone.DeviceID)
		})
		t.Run("Expired", func(t *testing.T) {
			mustCompletedSession(t, s.DB, "old", deleteDevices, "bob")
			s.Clock.Advance(2 * time.Hour)
			r := s.do(t, "POST", v3+"/delete_devices", bob.Token, map[string]any{
				"devices": []string{bobPhone.DeviceID}, "auth": map[string]any{"session": "old"},
			})
			wantChallenge(t, r, "", "m.login.password")
			wantDevices(t, s.DB, "bob", bob.DeviceID, bobPhone.DeviceID)
		})
		t.Run("OwnEndpoint", func(t *testing.T) {
			// The session itself was good: for what it was started for.
			mustCompletedSession(t, s.DB, "bob-delete", deleteDevices, "bob")
			r := s.do(t, "POST", v3+"/delete_devices", bob.Token, map[string]any{
				"devices": []string{bobPhone.DeviceID}, "auth": map[string]any{"session": "bob-delete"},
			})
			wantOK(t, r)
			wantDevices(t, s.DB, "bob", bob.DeviceID)
		})
	})
}

// TestUIA_Stages checks stages that do not belong to the flow.
func TestUIA_Stages(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		phone := s.mustLogin(t, "alice", "alice-password")
		for _, auth := range []map[string]any{
			{"type": "m.login.dummy"},
			{"type": "m.login.registration_token", "token": "x"},
			{"type": "org.example.unknown"},
		} {
			r := s.do(t, "POST", v3+"/delete_devices", alice.Token, map[string]any{
				"devices": []string{phone.DeviceID}, "auth": auth,
			})
			wantChallenge(t, r, "M_FORBIDDEN", "m.login.password")
		}
		wantDevices(t, s.DB, "alice", alice.DeviceID, phone.DeviceID)
		r := s.do(t, "POST", v3+"/register", "", map[string]any{
			"username": "bob", "password": "bob-password", "auth": passwordAuth(alice, "alice-password", ""),
		})
		wantChallenge(t, r, "M_FORBIDDEN", "m.login.dummy")
		wantAccount(t, s.DB, "bob", false)
	})
}

package clientapi_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage"
)

// TestRegister_Username checks the user id rules of POST /register and
// GET /register/available.
func TestRegister_Username(t *testing.T) {
	// "@" + localpart + ":test.local" may be 255 characters long.
	longest := strings.Repeat("a", 255-len("@:"+serverName))
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		t.Run("Invalid", func(t *testing.T) {
			for _, name := range []string{
				"al ice", "@alice", "alice:" + serverName, "@alice:" + serverName, "alice#1", "al*ce",
				"élise", "alice\t", " ", longest + "a", "",
			} {
				r := s.register(t, name, "good-password")
				wantErr(t, r, http.StatusBadRequest, "M_INVALID_USERNAME")
				r = s.do(t, "GET", v3+"/register/available?username="+url.QueryEscape(name), "", nil)
				wantErr(t, r, http.StatusBadRequest, "M_INVALID_USERNAME")
				if name != "" {
					wantAccount(t, s.DB, name, false)
					wantAccount(t, s.DB, strings.ToLower(name), false)
				}
			}
			// No account at all was created, not even one with a
			// generated name.
			r := s.do(t, "GET", v3+"/register/available?username=1", "", nil)
			wantOK(t, r)
		})
		t.Run("Grammar", func(t *testing.T) {
			for _, name := range []string{"a.b_c=d-e/f+g", "0123456789", longest} {
				r := s.do(t, "GET", v3+"/register/available?username="+url.QueryEscape(name), "", nil)
				wantOK(t, r)
				if r.Body["available"] != true {
					t.Fatalf("%s: got %s, want available true", r.Req, r.Raw)
				}
				u := s.mustRegister(t, name, "good-password")
				if u.ID != userID(name) {
					t.Fatalf("got user id %s, want %s", u.ID, userID(name))
				}
			}
		})
		t.Run("UpperCaseIsLowered", func(t *testing.T) {
			// Like Synapse (and as Complement expects), upper-case letters
			// are lowered rather than refused.
			r := s.register(t, "Carol-UPPER", "good-password")
			wantOK(t, r)
			if got := r.str("user_id"); got != userID("carol-upper") {
				t.Fatalf("got user id %s, want %s", got, userID("carol-upper"))
			}
			wantErr(t, s.register(t, "CAROL-upper", "good-password"), http.StatusBadRequest, "M_USER_IN_USE")
		})
		t.Run("Taken", func(t *testing.T) {
			s.mustRegister(t, "dave", "dave-password")
			wantErr(t, s.register(t, "dave", "other-password"), http.StatusBadRequest, "M_USER_IN_USE")
			r := s.do(t, "GET", v3+"/register/available?username=dave", "", nil)
			wantErr(t, r, http.StatusBadRequest, "M_USER_IN_USE")
			s.wantLogin(t, "dave", "dave-password", true)
			s.wantLogin(t, "dave", "other-password", false)
		})
		t.Run("Deactivated", func(t *testing.T) {
			erin := s.mustRegister(t, "erin", "erin-password")
			r := s.do(t, "POST", v3+"/account/deactivate", erin.Token,
				map[string]any{"auth": passwordAuth(erin, "erin-password", "")})
			wantOK(t, r)
			wantErr(t, s.register(t, "erin", "new-password"), http.StatusBadRequest, "M_USER_IN_USE")
			r = s.do(t, "GET", v3+"/register/available?username=erin", "", nil)
			wantErr(t, r, http.StatusBadRequest, "M_USER_IN_USE")
			s.wantLogin(t, "erin", "new-password", false)
			acct, err := s.DB.Account(t.Context(), "erin")
			if err != nil || !acct.Deactivated {
				t.Fatalf("got account %+v, %v, want it deactivated", acct, err)
			}
		})
		t.Run("NoUsername", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/register", "", map[string]any{
				"password": "good-password", "auth": map[string]any{"type": "m.login.dummy"},
			})
			wantOK(t, r)
			if id := r.str("user_id"); !strings.HasSuffix(id, ":"+serverName) || len(id) < 3+len(serverName) {
				t.Fatalf("got user id %q, want a generated one", id)
			}
		})
	})
}

// TestRegister_Options checks inhibit_login, device_id and refresh_token
// at registration.
func TestRegister_Options(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		t.Run("InhibitLogin", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/register", "", map[string]any{
				"username": "alice", "password": "alice-password", "inhibit_login": true,
				"auth": map[string]any{"type": "m.login.dummy"},
			})
			wantOK(t, r)
			if r.str("user_id") != userID("alice") || r.str("access_token") != "" || r.str("device_id") != "" {
				t.Fatalf("got %s, want only the user id", r.Raw)
			}
			wantDevices(t, s.DB, "alice")
			s.wantLogin(t, "alice", "alice-password", true)
		})
		t.Run("DeviceID", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/register", "", map[string]any{
				"username": "bob", "password": "bob-password", "device_id": "BOBPHONE",
				"initial_device_display_name": "Bob's phone", "auth": map[string]any{"type": "m.login.dummy"},
			})
			wantOK(t, r)
			if r.str("device_id") != "BOBPHONE" {
				t.Fatalf("got %s, want device BOBPHONE", r.Raw)
			}
			r = s.do(t, "GET", v3+"/devices/BOBPHONE", r.str("access_token"), nil)
			wantOK(t, r)
			if r.Body["display_name"] != "Bob's phone" {
				t.Fatalf("got %s, want the display name", r.Raw)
			}
		})
		t.Run("RefreshToken", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/register", "", map[string]any{
				"username": "carol", "password": "carol-password", "refresh_token": true,
				"auth": map[string]any{"type": "m.login.dummy"},
			})
			wantOK(t, r)
			if r.str("refresh_token") == "" || r.Body["expires_in_ms"] == nil {
				t.Fatalf("got %s, want a refresh token and expiry", r.Raw)
			}
			r = s.do(t, "POST", v3+"/refresh", "", map[string]any{"refresh_token": r.str("refresh_token")})
			wantOK(t, r)
			s.wantToken(t, r.str("access_token"), true)
		})
	})
}

// TestRegister_Password checks the password policy at registration.
func TestRegister_Password(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		for _, c := range []struct {
			password string
			errcode  string
		}{
			{"short", "M_WEAK_PASSWORD"},
			{"1234567", "M_WEAK_PASSWORD"},
			{strings.Repeat("p", 513), "M_INVALID_PARAM"},
		} {
			wantErr(t, s.register(t, "alice", c.password), http.StatusBadRequest, c.errcode)
			wantAccount(t, s.DB, "alice", false)
		}
		s.mustRegister(t, "alice", "12345678")
		s.wantLogin(t, "alice", "12345678", true)
	})
}

// TestRegister_Disabled checks that a server with registration disabled
// creates no accounts.
func TestRegister_Disabled(t *testing.T) {
	eachServer(t, func(cfg *config.Config) { cfg.Registration.Mode = config.RegistrationDisabled }, func(t *testing.T, s *testServer) {
		wantErr(t, s.register(t, "alice", "alice-password"), http.StatusForbidden, "M_FORBIDDEN")
		r := s.do(t, "POST", v3+"/register", "", map[string]any{"username": "alice", "password": "alice-password"})
		wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
		wantAccount(t, s.DB, "alice", false)
		wantErr(t, s.do(t, "GET", v3+"/register/available?username=alice", "", nil), http.StatusForbidden, "M_FORBIDDEN")
		r = s.do(t, "POST", v3+"/register?kind=guest", "", map[string]any{})
		wantErr(t, r, http.StatusForbidden, "M_GUEST_ACCESS_FORBIDDEN")
	})
}

// TestRegister_Kind checks that an unknown kind is refused.
func TestRegister_Kind(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		r := s.do(t, "POST", v3+"/register?kind=admin", "", map[string]any{
			"username": "alice", "password": "alice-password", "auth": map[string]any{"type": "m.login.dummy"},
		})
		wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
		wantAccount(t, s.DB, "alice", false)
	})
}

// mustRegistrationToken creates a registration token; uses 0 means
// unlimited.
func mustRegistrationToken(t *testing.T, db *storage.DB, token string, uses int64, expires *time.Time) {
	t.Helper()
	rt := storage.RegistrationToken{Token: token, ExpiresAt: expires}
	if uses > 0 {
		rt.UsesAllowed = &uses
	}
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.InsertRegistrationToken(ctx, rt) })
}

// tokenRegistration registers localpart with a registration token in the
// two steps of user-interactive auth.
func (s *testServer) tokenRegistration(t *testing.T, localpart, token string) response {
	t.Helper()
	body := map[string]any{"username": localpart, "password": "good-password"}
	session := wantChallenge(t, s.do(t, "POST", v3+"/register", "", body), "", "m.login.registration_token")
	body["auth"] = map[string]any{"type": "m.login.registration_token", "token": token, "session": session}
	return s.do(t, "POST", v3+"/register", "", body)
}

// TestRegister_Token checks registration in token mode.
func TestRegister_Token(t *testing.T) {
	configure := func(cfg *config.Config) { cfg.Registration.Mode = config.RegistrationToken }
	validity := func(t *testing.T, s *testServer, token string) bool {
		t.Helper()
		r := s.do(t, "GET", v1+"/register/m.login.registration_token/validity?token="+url.QueryEscape(token), "", nil)
		wantOK(t, r)
		valid, ok := r.Body["valid"].(bool)
		if !ok {
			t.Fatalf("%s: got %s, want a valid flag", r.Req, r.Raw)
		}
		return valid
	}
	eachServer(t, configure, func(t *testing.T, s *testServer) {
		mustRegistrationToken(t, s.DB, "once", 1, nil)
		mustRegistrationToken(t, s.DB, "many", 0, nil)
		expiry := s.Clock.Now().Add(time.Hour)
		mustRegistrationToken(t, s.DB, "hour", 0, &expiry)

		t.Run("Flows", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/register", "", map[string]any{"username": "alice", "password": "good-password"})
			wantChallenge(t, r, "", "m.login.registration_token")
			if strings.Contains(string(r.Raw), "m.login.dummy") {
				t.Fatalf("got %s, want no dummy flow in token mode", r.Raw)
			}
		})
		t.Run("DummyRefused", func(t *testing.T) {
			r := s.register(t, "alice", "good-password")
			wantChallenge(t, r, "M_FORBIDDEN", "m.login.registration_token")
			wantAccount(t, s.DB, "alice", false)
		})
		t.Run("BadToken", func(t *testing.T) {
			body := map[string]any{"username": "alice", "password": "good-password"}
			session := wantChallenge(t, s.do(t, "POST", v3+"/register", "", body), "", "m.login.registration_token")
			body["auth"] = map[string]any{"type": "m.login.registration_token", "token": "wrong", "session": session}
			r := s.do(t, "POST", v3+"/register", "", body)
			wantChallenge(t, r, "M_UNAUTHORIZED", "m.login.registration_token")
			wantAccount(t, s.DB, "alice", false)
			// The session goes on with a good token.
			body["auth"] = map[string]any{"type": "m.login.registration_token", "token": "many", "session": session}
			wantOK(t, s.do(t, "POST", v3+"/register", "", body))
			wantAccount(t, s.DB, "alice", true)
		})
		t.Run("MissingToken", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/register", "", map[string]any{
				"username": "bob", "password": "good-password", "auth": map[string]any{"type": "m.login.registration_token"},
			})
			wantChallenge(t, r, "M_MISSING_PARAM", "m.login.registration_token")
			wantAccount(t, s.DB, "bob", false)
		})
		t.Run("UsedOnce", func(t *testing.T) {
			if !validity(t, s, "once") {
				t.Fatal("got once invalid before use, want valid")
			}
			wantOK(t, s.tokenRegistration(t, "bob", "once"))
			if validity(t, s, "once") {
				t.Fatal("got once valid after its one use, want invalid")
			}
			r := s.tokenRegistration(t, "carol", "once")
			wantChallenge(t, r, "M_UNAUTHORIZED", "m.login.registration_token")
			wantAccount(t, s.DB, "carol", false)
			rt, err := s.DB.RegistrationToken(t.Context(), "once")
			if err != nil || rt.Completed != 1 || rt.Pending != 0 {
				t.Fatalf("got token %+v, %v, want completed 1, pending 0", rt, err)
			}
		})
		t.Run("Expiry", func(t *testing.T) {
			if !validity(t, s, "hour") {
				t.Fatal("got hour invalid before expiry, want valid")
			}
			s.Clock.Advance(time.Hour)
			if validity(t, s, "hour") {
				t.Fatal("got hour valid after expiry, want invalid")
			}
			wantChallenge(t, s.tokenRegistration(t, "dave", "hour"), "M_UNAUTHORIZED", "m.login.registration_token")
			wantAccount(t, s.DB, "dave", false)
		})
		t.Run("Validity", func(t *testing.T) {
			if validity(t, s, "unknown") {
				t.Fatal("got an unknown token valid")
			}
			if !validity(t, s, "many") {
				t.Fatal("got many invalid, want valid")
			}
			r := s.do(t, "GET", v1+"/register/m.login.registration_token/validity", "", nil)
			wantErr(t, r, http.StatusBadRequest, "M_MISSING_PARAM")
		})
	})
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		r := s.do(t, "GET", v1+"/register/m.login.registration_token/validity?token=x", "", nil)
		wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
		r = s.do(t, "POST", v3+"/register", "", map[string]any{
			"username": "alice", "password": "good-password",
			"auth": map[string]any{"type": "m.login.registration_token", "token": "x"},
		})
		wantChallenge(t, r, "M_FORBIDDEN", "m.login.dummy")
		wantAccount(t, s.DB, "alice", false)
	})
}

// TestRegister_TokenRace has eight registrations race for a token with one
// use: exactly one gets an account.
func TestRegister_TokenRace(t *testing.T) {
	configure := func(cfg *config.Config) { cfg.Registration.Mode = config.RegistrationToken }
	eachServer(t, configure, func(t *testing.T, s *testServer) {
		mustRegistrationToken(t, s.DB, "once", 1, nil)
		const n = 8
		results := race(t, s, n, func(ctx context.Context, i int) (response, error) {
			return s.send(ctx, "POST", v3+"/register", "", map[string]any{
				"username": "user" + string(rune('a'+i)), "password": "good-password",
				"auth": map[string]any{"type": "m.login.registration_token", "token": "once"},
			}, nil)
		})
		if won := winners(t, results, outcome{http.StatusUnauthorized, "M_UNAUTHORIZED"}); len(won) != 1 {
			t.Fatalf("got %d registrations, want 1", len(won))
		}
		rt, err := s.DB.RegistrationToken(t.Context(), "once")
		if err != nil || rt.Completed != 1 || rt.Pending != 0 {
			t.Fatalf("got token %+v, %v, want completed 1, pending 0", rt, err)
		}
	})
}

// outcome is an answer's status and errcode ("" for none).
type outcome struct {
	status  int
	errcode string
}

// winners returns the indexes of the results that are 200 OK, and fails the
// test for any other result that is none of the lost outcomes.
func winners(t *testing.T, results []response, lost ...outcome) []int {
	t.Helper()
	var won []int
	for i, r := range results {
		if r.Status == http.StatusOK {
			won = append(won, i)
		} else if !slices.Contains(lost, outcome{r.Status, r.str("errcode")}) {
			t.Errorf("%s: got %d %s, want 200 or one of %v", r.Req, r.Status, r.Raw, lost)
		}
	}
	return won
}

// race runs n requests at once and returns their answers.
func race(t *testing.T, s *testServer, n int, send func(ctx context.Context, i int) (response, error)) []response {
	t.Helper()
	results := make([]response, n)
	errs := make([]error, n)
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = send(t.Context(), i)
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return results
}

// TestRegister_Concurrent has eight clients register the same name at
// once, each completing user-interactive auth: exactly one gets it.
func TestRegister_Concurrent(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		const n = 8
		sessions := make([]string, n)
		for i := range sessions {
			r := s.do(t, "POST", v3+"/register", "", map[string]any{"username": "alice", "password": "good-password"})
			sessions[i] = wantChallenge(t, r, "", "m.login.dummy")
		}
		results := race(t, s, n, func(ctx context.Context, i int) (response, error) {
			return s.send(ctx, "POST", v3+"/register", "", map[string]any{
				"username": "alice", "password": "password-" + string(rune('a'+i)),
				"auth": map[string]any{"type": "m.login.dummy", "session": sessions[i]},
			}, nil)
		})
		won := winners(t, results, outcome{http.StatusBadRequest, "M_USER_IN_USE"})
		if len(won) != 1 {
			t.Fatalf("registrations of alice that succeeded: got %v, want exactly one", won)
		}
		winner := won[0]
		// The account has the winner's password and one device.
		s.wantToken(t, results[winner].str("access_token"), true)
		wantDevices(t, s.DB, "alice", results[winner].str("device_id"))
		for i := range n {
			s.wantLogin(t, "alice", "password-"+string(rune('a'+i)), i == winner)
		}
	})
}

// TestRegister_Guest checks guest registration and what guests may do.
func TestRegister_Guest(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		r := s.do(t, "POST", v3+"/register?kind=guest", "", map[string]any{})
		wantErr(t, r, http.StatusForbidden, "M_GUEST_ACCESS_FORBIDDEN")
		wantAccount(t, s.DB, "1", false)
	})
	configure := func(cfg *config.Config) { cfg.Registration.AllowGuests = true }
	eachServer(t, configure, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		r := s.do(t, "POST", v3+"/register?kind=guest", "", map[string]any{
			"username": "mallory", "password": "mallory-password", "initial_device_display_name": "Guest phone",
		})
		wantOK(t, r)
		guest := r.str("access_token")
		id := r.str("user_id")
		if id == userID("mallory") || guest == "" {
			t.Fatalf("got %s, want a guest with a generated id", r.Raw)
		}
		wantAccount(t, s.DB, "mallory", false)
		r = s.do(t, "GET", v3+"/account/whoami", guest, nil)
		wantOK(t, r)
		if r.Body["is_guest"] != true || r.str("user_id") != id {
			t.Fatalf("got %s, want is_guest true for %s", r.Raw, id)
		}
		localpart := strings.TrimSuffix(strings.TrimPrefix(id, "@"), ":"+serverName)
		acct, err := s.DB.Account(t.Context(), localpart)
		if err != nil || !acct.IsGuest || acct.PasswordHash != "" {
			t.Fatalf("got account %+v, %v, want a guest without password", acct, err)
		}
		t.Run("UserOnlyEndpoints", func(t *testing.T) {
			for _, req := range []struct{ method, path string }{
				{"POST", v3 + "/account/password"},
				{"POST", v3 + "/account/deactivate"},
				{"DELETE", v3 + "/devices/X"},
				{"POST", v3 + "/delete_devices"},
				{"GET", v3 + "/capabilities"},
				{"POST", v1 + "/login/get_token"},
			} {
				r := s.do(t, req.method, req.path, guest, map[string]any{})
				wantErr(t, r, http.StatusForbidden, "M_GUEST_ACCESS_FORBIDDEN")
			}
			s.wantToken(t, guest, true)
			if acct, err := s.DB.Account(t.Context(), localpart); err != nil || acct.Deactivated {
				t.Fatalf("got account %+v, %v, want it active", acct, err)
			}
		})
		t.Run("GuestEndpoints", func(t *testing.T) {
			wantOK(t, s.do(t, "GET", v3+"/devices", guest, nil))
			wantOK(t, s.do(t, "PUT", v3+"/user/"+id+"/account_data/org.example", guest, map[string]any{"a": 1}))
			r := s.do(t, "PUT", v3+"/user/"+alice.ID+"/account_data/org.example", guest, map[string]any{"a": 1})
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("NumericNameTaken", func(t *testing.T) {
			// Guests get numeric ids, which users may also pick: a guest
			// registration must skip them.
			pos, err := strconv.Atoi(localpart)
			if err != nil {
				t.Fatalf("guest localpart %q is not a number", localpart)
			}
			var next []string
			for i := 1; i <= 3; i++ {
				next = append(next, strconv.Itoa(pos+i))
			}
			for _, name := range next {
				s.mustRegister(t, name, "good-password")
			}
			r := s.do(t, "POST", v3+"/register?kind=guest", "", map[string]any{})
			wantOK(t, r)
			if slices.Contains(next, strings.TrimSuffix(strings.TrimPrefix(r.str("user_id"), "@"), ":"+serverName)) {
				t.Fatalf("guest got a taken id: %s", r.Raw)
			}
		})
	})
}

package clientapi_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ganglion/ganglion/config"
)

// nested returns a JSON value nested depth levels deep.
func nested(depth int) string {
	return strings.Repeat("[", depth-1) + "{}" + strings.Repeat("]", depth-1)
}

const bodyLimit = 2048

// badBody is a request body that must be refused.
type badBody struct {
	name    string
	body    any
	status  int
	errcode string
}

// malformedBodies are refused by every endpoint that takes a JSON object.
func malformedBodies() []badBody {
	big := `{"username":"bob","pad":"` + strings.Repeat("x", bodyLimit) + `"}`
	return []badBody{
		{"NotJSON", rawBody(`{"username": "bob",`), 400, "M_NOT_JSON"},
		{"NotJSONForm", rawBody(`username=bob`), 400, "M_NOT_JSON"},
		{"TwoValues", rawBody(`{"username":"bob"} {}`), 400, "M_NOT_JSON"},
		{"InvalidUTF8", rawBody("{\"username\":\"b\xffb\"}"), 400, "M_NOT_JSON"},
		{"Array", rawBody(`[{"username": "bob"}]`), 400, "M_BAD_JSON"},
		{"String", rawBody(`"bob"`), 400, "M_BAD_JSON"},
		{"Number", rawBody(`5`), 400, "M_BAD_JSON"},
		{"Null", rawBody(`null`), 400, "M_BAD_JSON"},
		{"TooLarge", rawBody(big), 413, "M_TOO_LARGE"},
		{"TooLargeChunked", streamBody{strings.NewReader(big)}, 413, "M_TOO_LARGE"},
		{"TooDeep", rawBody(`{"username":"bob","x":` + nested(64) + `}`), 400, "M_NOT_JSON"},
		{"TooDeepObjects", rawBody(strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65)), 400, "M_NOT_JSON"},
	}
}

// TestAPI_BadBody sends bodies that are not acceptable JSON, or have fields
// of the wrong type, to public and authenticated endpoints: each is refused
// with the spec's errcode and changes nothing.
func TestAPI_BadBody(t *testing.T) {
	eachServer(t, func(cfg *config.Config) { cfg.HTTP.MaxBodyBytes = bodyLimit }, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		other := s.mustLogin(t, "alice", "alice-password")
		endpoints := []struct {
			name, method, path, token string
			wrongTypes                []string
			unchanged                 func(t *testing.T)
		}{{
			name: "Register", method: "POST", path: v3 + "/register",
			wrongTypes: []string{
				`{"username": 5, "password": "bob-password", "auth": {"type": "m.login.dummy"}}`,
				`{"username": "bob", "password": ["bob-password"], "auth": {"type": "m.login.dummy"}}`,
				`{"username": "bob", "password": "bob-password", "inhibit_login": "yes", "auth": {"type": "m.login.dummy"}}`,
			},
			unchanged: func(t *testing.T) { wantAccount(t, s.DB, "bob", false) },
		}, {
			name: "Login", method: "POST", path: v3 + "/login",
			wrongTypes: []string{
				`{"type": "m.login.password", "identifier": "alice", "password": "alice-password"}`,
				`{"type": "m.login.password", "user": "alice", "password": 1234}`,
				`{"type": ["m.login.password"], "user": "alice", "password": "alice-password"}`,
			},
			unchanged: func(t *testing.T) { wantDevices(t, s.DB, "alice", alice.DeviceID, other.DeviceID) },
		}, {
			name: "Password", method: "POST", path: v3 + "/account/password", token: alice.Token,
			wrongTypes: []string{
				`{"new_password": 12345678, "auth": ` + jsonString(t, passwordAuth(alice, "alice-password", "")) + `}`,
				`{"new_password": "new-password", "logout_devices": "no", "auth": ` + jsonString(t, passwordAuth(alice, "alice-password", "")) + `}`,
			},
			unchanged: func(t *testing.T) {
				s.wantLogin(t, "alice", "alice-password", true)
				wantDevices(t, s.DB, "alice", alice.DeviceID, other.DeviceID)
			},
		}, {
			name: "Profile", method: "PUT", path: v3 + "/profile/" + alice.ID + "/displayname", token: alice.Token,
			wrongTypes: []string{`{"displayname": 5}`, `{"displayname": {"name": "Alice"}}`},
			unchanged: func(t *testing.T) {
				wantErr(t, s.do(t, "GET", v3+"/profile/"+alice.ID+"/displayname", "", nil), 404, "M_NOT_FOUND")
			},
		}, {
			name: "Device", method: "PUT", path: v3 + "/devices/" + other.DeviceID, token: alice.Token,
			wrongTypes: []string{`{"display_name": 5}`},
			unchanged: func(t *testing.T) {
				r := s.do(t, "GET", v3+"/devices/"+other.DeviceID, alice.Token, nil)
				wantOK(t, r)
				if _, set := r.Body["display_name"]; set {
					t.Fatalf("device renamed by a refused request: %s", r.Raw)
				}
			},
		}, {
			name: "DeleteDevices", method: "POST", path: v3 + "/delete_devices", token: alice.Token,
			wrongTypes: []string{
				`{"devices": "` + other.DeviceID + `", "auth": ` + jsonString(t, passwordAuth(alice, "alice-password", "")) + `}`,
				`{"devices": [5], "auth": ` + jsonString(t, passwordAuth(alice, "alice-password", "")) + `}`,
			},
			unchanged: func(t *testing.T) { wantDevices(t, s.DB, "alice", alice.DeviceID, other.DeviceID) },
		}, {
			name: "Filter", method: "POST", path: v3 + "/user/" + alice.ID + "/filter", token: alice.Token,
			wrongTypes: []string{`{"room": {"timeline": {"limit": "10"}}}`, `{"room": []}`},
			unchanged: func(t *testing.T) {
				wantErr(t, s.do(t, "GET", v3+"/user/"+alice.ID+"/filter/1", alice.Token, nil), 404, "M_NOT_FOUND")
			},
		}, {
			name: "AccountData", method: "PUT", path: v3 + "/user/" + alice.ID + "/account_data/org.example.x", token: alice.Token,
			unchanged: func(t *testing.T) {
				r := s.do(t, "GET", v3+"/user/"+alice.ID+"/account_data/org.example.x", alice.Token, nil)
				wantErr(t, r, 404, "M_NOT_FOUND")
			},
		}}
		for _, e := range endpoints {
			cases := malformedBodies()
			for _, body := range e.wrongTypes {
				cases = append(cases, badBody{"WrongType", rawBody(body), 400, "M_BAD_JSON"})
			}
			t.Run(e.name, func(t *testing.T) {
				for _, c := range cases {
					r := s.do(t, e.method, e.path, e.token, c.body)
					if r.Status != c.status || r.str("errcode") != c.errcode {
						t.Errorf("%s: got %d %s, want %d %s", c.name, r.Status, r.Raw, c.status, c.errcode)
					}
					e.unchanged(t)
				}
			})
		}
		t.Run("DepthLimitIsInclusive", func(t *testing.T) {
			// 64 levels are allowed: the body is decoded and the request
			// goes on to user-interactive auth.
			r := s.do(t, "POST", v3+"/register", "", rawBody(`{"username":"bob","x":`+nested(63)+`}`))
			wantChallenge(t, r, "", "m.login.dummy")
		})
		t.Run("BracketsInStringsDoNotCount", func(t *testing.T) {
			path := v3 + "/user/" + alice.ID + "/account_data/org.example.brackets"
			body := map[string]any{"s": strings.Repeat("[{", 200)}
			wantOK(t, s.do(t, "PUT", path, alice.Token, body))
			r := s.do(t, "GET", path, alice.Token, nil)
			wantOK(t, r)
			if r.Body["s"] != body["s"] {
				t.Fatalf("got %s, want the stored string back", r.Raw)
			}
		})
		t.Run("EmptyBodyIsEmptyObject", func(t *testing.T) {
			wantChallenge(t, s.do(t, "POST", v3+"/register", "", nil), "", "m.login.dummy")
		})
	})
}

// TestAPI_BadAuthObject checks that a malformed user-interactive auth
// object is M_BAD_JSON and authorises nothing.
func TestAPI_BadAuthObject(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		for _, auth := range []string{`"password"`, `[1]`, `5`, `{"type": 5}`, `{"type": "m.login.password", "identifier": "x"}`} {
			r := s.do(t, "POST", v3+"/account/password", alice.Token,
				rawBody(`{"new_password":"new-password","auth":`+auth+`}`))
			wantErr(t, r, http.StatusBadRequest, "M_BAD_JSON")
			r = s.do(t, "POST", v3+"/register", "", rawBody(`{"username":"bob","password":"bob-password","auth":`+auth+`}`))
			wantErr(t, r, http.StatusBadRequest, "M_BAD_JSON")
		}
		s.wantLogin(t, "alice", "alice-password", true)
		wantAccount(t, s.DB, "bob", false)
	})
}

// TestAPI_NULCharacter sends strings with U+0000 or invalid UTF-8, which
// PostgreSQL text columns cannot hold, in bodies, paths and queries: each is
// answered without a 500 (the log hook fails the test on one) and stores
// nothing.
func TestAPI_NULCharacter(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		requests := []struct {
			method, path, token string
			body                any
		}{
			{"POST", v3 + "/register", "", rawBody(`{"username":"bo\u0000b","password":"bob-password","auth":{"type":"m.login.dummy"}}`)},
			{"POST", v3 + "/register", "", rawBody(`{"username":"bob","password":"bob-password","device_id":"D\u0000","auth":{"type":"m.login.dummy"}}`)},
			{"POST", v3 + "/register", "", rawBody(`{"username":"bob","password":"bob-password","initial_device_display_name":"\u0000","auth":{"type":"m.login.dummy"}}`)},
			{"POST", v3 + "/login", "", rawBody(`{"type":"m.login.password","user":"alice\u0000","password":"alice-password"}`)},
			{"POST", v3 + "/login", "", rawBody(`{"type":"m.login.password","user":"alice","password":"alice-password","device_id":"\u0000"}`)},
			{"POST", v3 + "/login", "", rawBody(`{"type":"m.login.token","token":"\u0000"}`)},
			{"POST", v3 + "/refresh", "", rawBody(`{"refresh_token":"\u0000"}`)},
			{"PUT", v3 + "/profile/" + alice.ID + "/displayname", alice.Token, rawBody(`{"displayname":"A\u0000"}`)},
			{"PUT", v3 + "/devices/" + alice.DeviceID, alice.Token, rawBody(`{"display_name":"A\u0000"}`)},
			{"POST", v3 + "/register", "", rawBody(`{"username":"bob","password":"bob-password","auth":{"type":"m.login.dummy","session":"\u0000"}}`)},
			{"GET", v3 + "/profile/@alice%00:" + serverName, "", nil},
			{"GET", v3 + "/devices/A%00", alice.Token, nil},
			{"GET", v3 + "/user/" + alice.ID + "/account_data/a%00", alice.Token, nil},
			{"PUT", v3 + "/user/" + alice.ID + "/account_data/a%00", alice.Token, map[string]any{}},
			{"PUT", v3 + "/user/" + alice.ID + "/rooms/!a%00:x/account_data/a", alice.Token, map[string]any{}},
			{"GET", v3 + "/user/" + alice.ID + "/filter/1%00", alice.Token, nil},
			{"GET", v3 + "/register/available?username=a%00", "", nil},
			{"GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=%00", "", nil},
			{"GET", v3 + "/account/whoami?access_token=%00", "", nil},
			{"GET", v3 + "/profile/@alice%FF:" + serverName, "", nil},
			{"GET", v3 + "/devices/A%FF", alice.Token, nil},
			{"GET", v3 + "/user/" + alice.ID + "/filter/%FF", alice.Token, nil},
			{"PUT", v3 + "/user/" + alice.ID + "/account_data/a%FF", alice.Token, map[string]any{}},
			{"GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=%FF", "", nil},
			{"GET", v3 + "/register/available?username=%FF", "", nil},
		}
		for _, req := range requests {
			r := s.do(t, req.method, req.path, req.token, req.body)
			if r.Status == http.StatusOK && req.method != "GET" {
				t.Errorf("%s: got 200 %s, want an error", r.Req, r.Raw)
			}
			if r.Status >= 500 || r.str("errcode") == "" && r.Status != http.StatusOK && r.Status != 401 {
				t.Errorf("%s: got %d %s, want a Matrix error", r.Req, r.Status, r.Raw)
			}
		}
		wantAccount(t, s.DB, "bob", false)
		wantDevices(t, s.DB, "alice", alice.DeviceID)
		t.Run("UserAgent", func(t *testing.T) {
			// Header values may carry any byte but NUL: the device's
			// user agent is stored as valid UTF-8 all the same.
			body := map[string]any{"type": "m.login.password", "user": "alice", "password": "alice-password"}
			r := s.doHeaders(t, "POST", v3+"/login", "", body, map[string]string{"User-Agent": "agent\xff\xfe"})
			wantOK(t, r)
			devices, err := s.DB.Devices(t.Context(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range devices {
				if !utf8.ValidString(d.UserAgent) {
					t.Errorf("device %s: user agent %q is not UTF-8", d.ID, d.UserAgent)
				}
			}
		})
	})
}

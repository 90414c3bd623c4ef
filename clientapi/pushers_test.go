package clientapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

const gatewayURL = "https://push.example.org/_matrix/push/v1/notify"

// pusherBody is a valid POST /pushers/set body for an http pusher.
func pusherBody(appID, pushKey string) map[string]any {
	return map[string]any{
		"kind": "http", "app_id": appID, "pushkey": pushKey, "app_display_name": "App",
		"device_display_name": "Phone", "profile_tag": "tag", "lang": "en",
		"data": map[string]any{"url": gatewayURL, "format": "event_id_only", "custom": 1},
	}
}

// pushKeys returns the pushkeys of a user's pushers, as app_id/pushkey.
func (s *testServer) pushKeys(t *testing.T, token string) []string {
	t.Helper()
	r := s.do(t, "GET", v3+"/pushers", token, nil)
	wantOK(t, r)
	list, ok := r.Body["pushers"].([]any)
	if !ok {
		t.Fatalf("GET /pushers: got %s, want a pushers list", r.Raw)
	}
	var out []string
	for _, p := range list {
		m := p.(map[string]any)
		out = append(out, m["app_id"].(string)+"/"+m["pushkey"].(string))
	}
	slices.Sort(out)
	return out
}

func wantPushKeys(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("pushers: got %q, want %q", got, want)
	}
}

func TestAPI_Pushers(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		bob := s.mustRegister(t, "bob", "bob-password")

		t.Run("OK", func(t *testing.T) {
			wantPushKeys(t, s.pushKeys(t, alice.Token))
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", alice.Token, pusherBody("org.app", "key1")))
			r := s.do(t, "GET", v3+"/pushers", alice.Token, nil)
			wantOK(t, r)
			got := jsonString(t, r.Body["pushers"])
			want := `[{"app_display_name":"App","app_id":"org.app","data":{"custom":1,"format":"event_id_only",` +
				`"url":"` + gatewayURL + `"},"device_display_name":"Phone","kind":"http","lang":"en",` +
				`"profile_tag":"tag","pushkey":"key1"}]`
			if got != want {
				t.Fatalf("GET /pushers: got %s, want %s", got, want)
			}
			// The same app id and pushkey update the pusher.
			update := pusherBody("org.app", "key1")
			update["lang"] = "de"
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", alice.Token, update))
			r = s.do(t, "GET", v3+"/pushers", alice.Token, nil)
			if got := r.Body["pushers"].([]any); len(got) != 1 || got[0].(map[string]any)["lang"] != "de" {
				t.Fatalf("after the update: got %s, want one pusher with lang de", r.Raw)
			}
			wantPushKeys(t, s.pushKeys(t, bob.Token))
		})
		t.Run("Delete", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", alice.Token, pusherBody("org.app", "gone")))
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", alice.Token,
				map[string]any{"kind": nil, "app_id": "org.app", "pushkey": "gone"}))
			wantPushKeys(t, s.pushKeys(t, alice.Token), "org.app/key1")
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", alice.Token,
				map[string]any{"kind": nil, "app_id": "org.app", "pushkey": "never"}))
		})
		t.Run("Append", func(t *testing.T) {
			shared := pusherBody("org.shared", "same")
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", alice.Token, shared))
			shared["append"] = true
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", bob.Token, shared))
			wantPushKeys(t, s.pushKeys(t, alice.Token), "org.app/key1", "org.shared/same")
			wantPushKeys(t, s.pushKeys(t, bob.Token), "org.shared/same")
			shared["append"] = false // the default: the key moves to alice only
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", alice.Token, shared))
			wantPushKeys(t, s.pushKeys(t, alice.Token), "org.app/key1", "org.shared/same")
			wantPushKeys(t, s.pushKeys(t, bob.Token))
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			with := func(change func(b map[string]any)) map[string]any {
				b := pusherBody("org.bad", "k")
				change(b)
				return b
			}
			data := func(d map[string]any) func(b map[string]any) { return func(b map[string]any) { b["data"] = d } }
			without := func(key string) func(b map[string]any) { return func(b map[string]any) { delete(b, key) } }
			tests := []struct {
				name    string
				body    any
				errcode string
			}{
				{"NoKind", with(without("kind")), "M_MISSING_PARAM"},
				{"NoAppID", with(without("app_id")), "M_MISSING_PARAM"},
				{"NoPushKey", with(without("pushkey")), "M_MISSING_PARAM"},
				{"NoLang", with(without("lang")), "M_MISSING_PARAM"},
				{"NoData", with(without("data")), "M_MISSING_PARAM"},
				{"NoDisplayName", with(without("app_display_name")), "M_MISSING_PARAM"},
				{"Email", with(func(b map[string]any) { b["kind"] = "email" }), "M_INVALID_PARAM"},
				{"UnknownKind", with(func(b map[string]any) { b["kind"] = "carrier-pigeon" }), "M_INVALID_PARAM"},
				{"KindNumber", with(func(b map[string]any) { b["kind"] = 7 }), "M_BAD_JSON"},
				{"LongAppID", with(func(b map[string]any) { b["app_id"] = strings.Repeat("a", 65) }), "M_INVALID_PARAM"},
				{"LongPushKey", with(func(b map[string]any) { b["pushkey"] = strings.Repeat("k", 513) }), "M_INVALID_PARAM"},
				{"NoURL", with(data(map[string]any{"format": "event_id_only"})), "M_INVALID_PARAM"},
				{"URLNotString", with(data(map[string]any{"url": 5})), "M_INVALID_PARAM"},
				{"WrongPath", with(data(map[string]any{"url": "https://push.example.org/notify"})), "M_INVALID_PARAM"},
				{"WrongScheme", with(data(map[string]any{"url": "ftp://push.example.org/_matrix/push/v1/notify"})), "M_INVALID_PARAM"},
				{"NoHost", with(data(map[string]any{"url": "https:///_matrix/push/v1/notify"})), "M_INVALID_PARAM"},
				{"UnknownFormat", with(data(map[string]any{"url": gatewayURL, "format": "full"})), "M_INVALID_PARAM"},
				{"DataNotObject", with(func(b map[string]any) { b["data"] = "x" }), "M_INVALID_PARAM"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					wantErr(t, s.do(t, "POST", v3+"/pushers/set", alice.Token, tt.body), http.StatusBadRequest, tt.errcode)
				})
			}
			wantPushKeys(t, s.pushKeys(t, alice.Token), "org.app/key1", "org.shared/same")
		})
		t.Run("ErrUnauthenticated", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v3+"/pushers", "", nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
		t.Run("DeviceDeleted", func(t *testing.T) {
			phone := s.mustLogin(t, "bob", "bob-password")
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", phone.Token, pusherBody("org.app", "phone")))
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", bob.Token, pusherBody("org.app", "desk")))
			wantPushKeys(t, s.pushKeys(t, bob.Token), "org.app/desk", "org.app/phone")
			r := s.do(t, "DELETE", v3+"/devices/"+phone.DeviceID, bob.Token,
				map[string]any{"auth": passwordAuth(bob, "bob-password", "")})
			wantOK(t, r)
			wantPushKeys(t, s.pushKeys(t, bob.Token), "org.app/desk")
		})
		t.Run("PasswordChange", func(t *testing.T) {
			laptop := s.mustLogin(t, "alice", "alice-password")
			wantOK(t, s.do(t, "POST", v3+"/pushers/set", laptop.Token, pusherBody("org.app", "laptop")))
			r := s.do(t, "POST", v3+"/account/password", laptop.Token, map[string]any{
				"new_password": "alice-password-2", "auth": passwordAuth(alice, "alice-password", ""),
			})
			wantOK(t, r)
			wantPushKeys(t, s.pushKeys(t, laptop.Token), "org.app/laptop")
		})
	})
}

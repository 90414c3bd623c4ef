package clientapi_test

import (
	"net/http"
	"net/url"
	"testing"
)

const megolmBackup = "m.megolm_backup.v1.curve25519-aes-sha2"

func backupKeyBody(index, forwarded int, verified bool, ciphertext string) map[string]any {
	return map[string]any{
		"first_message_index": index, "forwarded_count": forwarded, "is_verified": verified,
		"session_data": map[string]any{"ephemeral": "e", "ciphertext": ciphertext, "mac": "m"},
	}
}

// mustCreateBackup creates a backup version and returns it.
func (s *testServer) mustCreateBackup(t *testing.T, u user, publicKey string) string {
	t.Helper()
	r := s.do(t, "POST", v3+"/room_keys/version", u.Token, map[string]any{
		"algorithm": megolmBackup, "auth_data": map[string]any{"public_key": publicKey},
	})
	wantOK(t, r)
	if r.str("version") == "" {
		t.Fatalf("create backup: got %s, want a version", r.Raw)
	}
	return r.str("version")
}

func TestAPI_BackupVersions(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		t.Run("ErrNotFoundNoBackup", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v3+"/room_keys/version", alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		first := s.mustCreateBackup(t, alice, "pk1")
		second := s.mustCreateBackup(t, alice, "pk2")
		t.Run("OKCurrent", func(t *testing.T) {
			r := s.do(t, "GET", v3+"/room_keys/version", alice.Token, nil)
			wantOK(t, r)
			auth, _ := r.Body["auth_data"].(map[string]any)
			if r.str("version") != second || r.str("algorithm") != megolmBackup || auth["public_key"] != "pk2" ||
				r.Body["count"] != float64(0) || r.str("etag") == "" {
				t.Errorf("current backup: got %s, want version %s with pk2, count 0 and an etag", r.Raw, second)
			}
			r = s.do(t, "GET", v3+"/room_keys/version/"+first, alice.Token, nil)
			wantOK(t, r)
			if r.str("version") != first {
				t.Errorf("older backup: got %s, want version %s", r.Raw, first)
			}
		})
		t.Run("ErrNotFoundOtherUser", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v3+"/room_keys/version/"+second, bob.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "GET", v3+"/room_keys/version/x1", alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("OKUpdate", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", v3+"/room_keys/version/"+second, alice.Token, map[string]any{
				"algorithm": megolmBackup, "auth_data": map[string]any{"public_key": "pk2", "signatures": map[string]any{}},
				"version": second,
			}))
			r := s.do(t, "GET", v3+"/room_keys/version/"+second, alice.Token, nil)
			if auth, _ := r.Body["auth_data"].(map[string]any); auth["signatures"] == nil {
				t.Errorf("after update: got %s, want signatures in auth_data", r.Raw)
			}
		})
		t.Run("ErrUpdate", func(t *testing.T) {
			wantErr(t, s.do(t, "PUT", v3+"/room_keys/version/"+second, alice.Token, map[string]any{
				"algorithm": "org.example.other", "auth_data": map[string]any{},
			}), http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, s.do(t, "PUT", v3+"/room_keys/version/"+second, alice.Token, map[string]any{
				"algorithm": megolmBackup, "auth_data": map[string]any{"public_key": "pk"}, "version": first,
			}), http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, s.do(t, "PUT", v3+"/room_keys/version/999999", alice.Token, map[string]any{
				"algorithm": megolmBackup, "auth_data": map[string]any{"public_key": "pk"},
			}), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("ErrCreate", func(t *testing.T) {
			for _, body := range []map[string]any{
				{"auth_data": map[string]any{"public_key": "pk"}},
				{"algorithm": megolmBackup, "auth_data": "pk"},
				{"algorithm": megolmBackup, "auth_data": map[string]any{}},
			} {
				if r := s.do(t, "POST", v3+"/room_keys/version", alice.Token, body); r.Status != http.StatusBadRequest {
					t.Errorf("create with %v: got %d %s, want 400", body, r.Status, r.Raw)
				}
			}
		})
		t.Run("OKDelete", func(t *testing.T) {
			for range 2 { // a deleted version deletes again without error
				wantOK(t, s.do(t, "DELETE", v3+"/room_keys/version/"+second, alice.Token, nil))
			}
			r := s.do(t, "GET", v3+"/room_keys/version", alice.Token, nil)
			wantOK(t, r)
			if r.str("version") != first {
				t.Errorf("current after delete: got %s, want version %s", r.Raw, first)
			}
			wantErr(t, s.do(t, "GET", v3+"/room_keys/version/"+second, alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "DELETE", v3+"/room_keys/version/424242", alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
	})
}

func TestAPI_BackupKeys(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		old := s.mustCreateBackup(t, alice, "pk-old")
		version := s.mustCreateBackup(t, alice, "pk")
		room := "!room:" + serverName
		keysPath := func(v string, parts ...string) string {
			p := v3 + "/room_keys/keys"
			for _, part := range parts {
				p += "/" + url.PathEscape(part)
			}
			return p + "?version=" + url.QueryEscape(v)
		}
		var etag string
		t.Run("OKPutAll", func(t *testing.T) {
			r := s.do(t, "PUT", keysPath(version), alice.Token, map[string]any{"rooms": map[string]any{
				room:                   map[string]any{"sessions": map[string]any{"s1": backupKeyBody(5, 1, false, "c1"), "s2": backupKeyBody(0, 0, false, "c2")}},
				"!other:" + serverName: map[string]any{"sessions": map[string]any{"s3": backupKeyBody(0, 0, true, "c3")}},
			}})
			wantOK(t, r)
			if r.Body["count"] != float64(3) || r.str("etag") == "" {
				t.Fatalf("put: got %s, want count 3 and an etag", r.Raw)
			}
			etag = r.str("etag")
			info := s.do(t, "GET", v3+"/room_keys/version", alice.Token, nil)
			if info.Body["count"] != float64(3) || info.str("etag") != etag {
				t.Errorf("version info: got %s, want count 3 and etag %s", info.Raw, etag)
			}
		})
		t.Run("OKReplacementRule", func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				body    map[string]any
				want    string // ciphertext stored afterwards
				changed bool
			}{
				{"HigherIndexKept", backupKeyBody(6, 0, false, "worse"), "c1", false},
				{"LowerIndexReplaces", backupKeyBody(4, 3, false, "better-index"), "better-index", true},
				{"HigherForwardedKept", backupKeyBody(4, 4, false, "worse-forwarded"), "better-index", false},
				{"LowerForwardedReplaces", backupKeyBody(4, 2, false, "better-forwarded"), "better-forwarded", true},
				{"VerifiedReplaces", backupKeyBody(9, 9, true, "verified"), "verified", true},
				{"UnverifiedNeverReplacesVerified", backupKeyBody(0, 0, false, "unverified"), "verified", false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := s.do(t, "PUT", keysPath(version, room, "s1"), alice.Token, tc.body)
					wantOK(t, r)
					if changed := r.str("etag") != etag; changed != tc.changed || r.Body["count"] != float64(3) {
						t.Errorf("put: got %s (etag before %s), want etag changed %v and count 3", r.Raw, etag, tc.changed)
					}
					etag = r.str("etag")
					got := s.do(t, "GET", keysPath(version, room, "s1"), alice.Token, nil)
					wantOK(t, got)
					if data, _ := got.Body["session_data"].(map[string]any); data["ciphertext"] != tc.want {
						t.Errorf("stored key: got %s, want ciphertext %s", got.Raw, tc.want)
					}
				})
			}
		})
		t.Run("OKGet", func(t *testing.T) {
			all := s.do(t, "GET", keysPath(version), alice.Token, nil)
			wantOK(t, all)
			rooms, _ := all.Body["rooms"].(map[string]any)
			if len(rooms) != 2 {
				t.Errorf("all keys: got %s, want two rooms", all.Raw)
			}
			one := s.do(t, "GET", keysPath(version, room), alice.Token, nil)
			wantOK(t, one)
			if sessions, _ := one.Body["sessions"].(map[string]any); len(sessions) != 2 {
				t.Errorf("room keys: got %s, want two sessions", one.Raw)
			}
			none := s.do(t, "GET", keysPath(version, "!empty:"+serverName), alice.Token, nil)
			wantOK(t, none)
			if string(none.Raw) != `{"sessions":{}}` {
				t.Errorf("room without keys: got %s, want {\"sessions\":{}}", none.Raw)
			}
			wantErr(t, s.do(t, "GET", keysPath(version, room, "nope"), alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			if r := s.do(t, "GET", keysPath(old), alice.Token, nil); r.Status != http.StatusOK || string(r.Raw) != `{"rooms":{}}` {
				t.Errorf("keys of the older version: got %d %s, want 200 {\"rooms\":{}}", r.Status, r.Raw)
			}
		})
		t.Run("ErrWrongVersion", func(t *testing.T) {
			r := s.do(t, "PUT", keysPath(old, room, "s9"), alice.Token, backupKeyBody(0, 0, false, "x"))
			wantErr(t, r, http.StatusForbidden, "M_WRONG_ROOM_KEYS_VERSION")
			if r.str("current_version") != version {
				t.Errorf("got current_version %q, want %q", r.str("current_version"), version)
			}
			wantErr(t, s.do(t, "PUT", keysPath("777777", room, "s9"), alice.Token, backupKeyBody(0, 0, false, "x")),
				http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "GET", keysPath("777777"), alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "GET", v3+"/room_keys/keys", alice.Token, nil), http.StatusBadRequest, "M_MISSING_PARAM")
		})
		t.Run("ErrBadKey", func(t *testing.T) {
			for _, body := range []map[string]any{
				{"first_message_index": 0, "forwarded_count": 0, "is_verified": false},
				{"first_message_index": -1, "forwarded_count": 0, "is_verified": false, "session_data": map[string]any{}},
				{"first_message_index": 0, "forwarded_count": 0, "is_verified": false, "session_data": "text"},
			} {
				if r := s.do(t, "PUT", keysPath(version, room, "bad"), alice.Token, body); r.Status != http.StatusBadRequest {
					t.Errorf("put %v: got %d %s, want 400", body, r.Status, r.Raw)
				}
			}
			if r := s.do(t, "PUT", keysPath(version, "not-a-room", "s"), alice.Token, backupKeyBody(0, 0, false, "x")); r.Status != http.StatusBadRequest {
				t.Errorf("put with a bad room id: got %d %s, want 400", r.Status, r.Raw)
			}
		})
		t.Run("OKDelete", func(t *testing.T) {
			r := s.do(t, "DELETE", keysPath(version, room, "s2"), alice.Token, nil)
			wantOK(t, r)
			if r.Body["count"] != float64(2) || r.str("etag") == etag {
				t.Errorf("delete one: got %s, want count 2 and a new etag", r.Raw)
			}
			r = s.do(t, "DELETE", keysPath(version, room), alice.Token, nil)
			if wantOK(t, r); r.Body["count"] != float64(1) {
				t.Errorf("delete room: got %s, want count 1", r.Raw)
			}
			r = s.do(t, "DELETE", keysPath(version), alice.Token, nil)
			if wantOK(t, r); r.Body["count"] != float64(0) {
				t.Errorf("delete all: got %s, want count 0", r.Raw)
			}
		})
		t.Run("ErrDeletedVersion", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", keysPath(version, room, "s1"), alice.Token, backupKeyBody(0, 0, false, "x")))
			wantOK(t, s.do(t, "DELETE", v3+"/room_keys/version/"+version, alice.Token, nil))
			wantErr(t, s.do(t, "GET", keysPath(version, room, "s1"), alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "PUT", keysPath(version, room, "s1"), alice.Token, backupKeyBody(0, 0, false, "x")),
				http.StatusNotFound, "M_NOT_FOUND")
			// The older version is current again and takes keys.
			wantOK(t, s.do(t, "PUT", keysPath(old, room, "s1"), alice.Token, backupKeyBody(0, 0, false, "x")))
		})
	})
}

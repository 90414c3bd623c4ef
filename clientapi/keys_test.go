package clientapi_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"
)

// signer is an ed25519 key of a user: a device's identity key or a
// cross-signing key, as a client holds it.
type signer struct {
	userID, keyID string // keyID without the "ed25519:" prefix
	priv          ed25519.PrivateKey
	pub           string
}

func newSigner(t *testing.T, userID, keyID string) signer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := signer{userID: userID, priv: priv, pub: base64.RawStdEncoding.EncodeToString(pub)}
	s.keyID = keyID
	if keyID == "" { // cross-signing keys are named by their public key
		s.keyID = s.pub
	}
	return s
}

// sign returns v with the signer's signature added.
func (s signer) sign(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := gmsl.SignJSON(s.userID, gmsl.KeyID("ed25519:"+s.keyID), s.priv, raw)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(signed, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// deviceKeys are the device's identity keys signed by its ed25519 key.
func (s signer) deviceKeys(t *testing.T) map[string]any {
	return s.sign(t, map[string]any{
		"user_id": s.userID, "device_id": s.keyID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys":       map[string]string{"ed25519:" + s.keyID: s.pub, "curve25519:" + s.keyID: s.pub},
	})
}

// oneTimeKeys are n signed_curve25519 keys with ids prefix0 ... signed by
// the device.
func (s signer) oneTimeKeys(t *testing.T, prefix string, n int) map[string]any {
	out := map[string]any{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		out["signed_curve25519:"+id] = s.sign(t, map[string]any{"key": "otk-" + id})
	}
	return out
}

// uploadKeys posts /keys/upload and returns the answer.
func (s *testServer) uploadKeys(t *testing.T, u user, body map[string]any) response {
	t.Helper()
	return s.do(t, "POST", v3+"/keys/upload", u.Token, body)
}

// otkCount returns the device's signed_curve25519 one-time key count as
// /keys/upload reports it.
func (s *testServer) otkCount(t *testing.T, u user) int {
	t.Helper()
	r := s.uploadKeys(t, u, map[string]any{})
	wantOK(t, r)
	counts, _ := r.Body["one_time_key_counts"].(map[string]any)
	n, _ := counts["signed_curve25519"].(float64)
	return int(n)
}

// queryDevices returns the keys of a user's devices as viewer sees them.
func (s *testServer) queryDevices(t *testing.T, viewer user, userID string) map[string]map[string]any {
	t.Helper()
	r := s.do(t, "POST", v3+"/keys/query", viewer.Token, map[string]any{"device_keys": map[string]any{userID: []string{}}})
	wantOK(t, r)
	var body struct {
		DeviceKeys map[string]map[string]map[string]any `json:"device_keys"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatal(err)
	}
	return body.DeviceKeys[userID]
}

// TestAPI_KeysUpload: device keys are the device's own and never change;
// one-time and fallback keys are well-formed; a refused upload stores
// nothing of itself.
func TestAPI_KeysUpload(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		dev := newSigner(t, alice.ID, alice.DeviceID)
		otks := dev.oneTimeKeys(t, "A", 2)
		r := s.uploadKeys(t, alice, map[string]any{"device_keys": dev.deviceKeys(t), "one_time_keys": otks})
		wantOK(t, r)
		if n := s.otkCount(t, alice); n != 2 {
			t.Fatalf("one-time keys after upload: got %d, want 2", n)
		}

		t.Run("OKSameAgain", func(t *testing.T) {
			// A retried upload (the answer was lost) is accepted.
			wantOK(t, s.uploadKeys(t, alice, map[string]any{"device_keys": dev.deviceKeys(t), "one_time_keys": otks}))
			if n := s.otkCount(t, alice); n != 2 {
				t.Errorf("one-time keys after the same upload again: got %d, want 2", n)
			}
		})

		t.Run("OKConcurrentRetries", func(t *testing.T) {
			// A client retrying an upload whose answer was slow: the same
			// keys at once several times, all accepted, stored once.
			carol := s.mustRegister(t, "carol", "carol password")
			cdev := newSigner(t, carol.ID, carol.DeviceID)
			body := map[string]any{"device_keys": cdev.deviceKeys(t), "one_time_keys": cdev.oneTimeKeys(t, "C", 5)}
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := s.send(context.Background(), "POST", v3+"/keys/upload", carol.Token, body, nil)
					if err != nil || r.Status != http.StatusOK {
						t.Errorf("upload: got %d %s (%v), want 200", r.Status, r.Raw, err)
					}
				}()
			}
			wg.Wait()
			if n := s.otkCount(t, carol); n != 5 {
				t.Errorf("one-time keys: got %d, want 5", n)
			}
		})

		forger := newSigner(t, alice.ID, alice.DeviceID)
		forged := forger.deviceKeys(t)
		forged["keys"].(map[string]any)["ed25519:"+alice.DeviceID] = dev.pub // dev's key, forger's signature
		otherUser := newSigner(t, bob.ID, alice.DeviceID).deviceKeys(t)
		otherDevice := newSigner(t, alice.ID, "OTHERDEVICE").deviceKeys(t)
		noCurve := dev.sign(t, map[string]any{
			"user_id": alice.ID, "device_id": alice.DeviceID, "algorithms": []string{"m.megolm.v1.aes-sha2"},
			"keys": map[string]string{"ed25519:" + alice.DeviceID: dev.pub},
		})
		for _, tc := range []struct {
			name    string
			body    any
			errcode string
		}{
			{"ErrForgedSignature", map[string]any{"device_keys": forged}, "M_INVALID_PARAM"},
			{"ErrOtherUser", map[string]any{"device_keys": otherUser}, "M_INVALID_PARAM"},
			{"ErrOtherDevice", map[string]any{"device_keys": otherDevice}, "M_INVALID_PARAM"},
			{"ErrNoCurve25519Key", map[string]any{"device_keys": noCurve}, "M_INVALID_PARAM"},
			{"ErrMissingFields", map[string]any{"device_keys": map[string]any{"user_id": alice.ID, "device_id": alice.DeviceID}}, "M_BAD_JSON"},
			{"ErrDeviceKeysNotObject", map[string]any{"device_keys": "keys"}, "M_BAD_JSON"},
			{"ErrKeysNotStrings", map[string]any{"device_keys": map[string]any{
				"user_id": alice.ID, "device_id": alice.DeviceID, "algorithms": []string{"x"}, "keys": map[string]any{"ed25519:X": 5},
			}}, "M_BAD_JSON"},
			{"ErrOneTimeKeyID", map[string]any{"one_time_keys": map[string]any{"AAAAAQ": map[string]any{"key": "k"}}}, "M_INVALID_PARAM"},
			{"ErrOneTimeKeyNumber", map[string]any{"one_time_keys": map[string]any{"signed_curve25519:B0": 5}}, "M_BAD_JSON"},
			{"ErrOneTimeKeysList", map[string]any{"one_time_keys": []string{"signed_curve25519:B0"}}, "M_BAD_JSON"},
			{"ErrFallbackKeyNumber", map[string]any{"fallback_keys": map[string]any{"signed_curve25519:F0": true}}, "M_BAD_JSON"},
			{"ErrTwoFallbackKeysOfAnAlgorithm", map[string]any{"fallback_keys": map[string]any{
				"signed_curve25519:F1": dev.sign(t, map[string]any{"key": "f1", "fallback": true}),
				"signed_curve25519:F2": dev.sign(t, map[string]any{"key": "f2", "fallback": true}),
			}}, "M_INVALID_PARAM"},
			{"ErrOneTimeKeySameIDOtherContent", map[string]any{"one_time_keys": map[string]any{
				"signed_curve25519:B1": dev.sign(t, map[string]any{"key": "new"}), // would be stored, but for the next
				"signed_curve25519:A0": dev.sign(t, map[string]any{"key": "other content"}),
			}}, "M_INVALID_PARAM"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, s.do(t, "POST", v3+"/keys/upload", alice.Token, tc.body), http.StatusBadRequest, tc.errcode)
				if n := s.otkCount(t, alice); n != 2 {
					t.Errorf("one-time keys after a refused upload: got %d, want 2", n)
				}
				stored := s.queryDevices(t, bob, alice.ID)
				if len(stored) != 1 || stored[alice.DeviceID] == nil {
					t.Fatalf("alice's devices after a refused upload: got %v, want only %s", stored, alice.DeviceID)
				}
				if keys, _ := stored[alice.DeviceID]["keys"].(map[string]any); keys["ed25519:"+alice.DeviceID] != dev.pub {
					t.Errorf("alice's identity key after a refused upload: got %v, want %s", keys, dev.pub)
				}
			})
		}
		// A client that lost its keys sets the device up again with new ones:
		// the newest upload stands.
		t.Run("NewIdentityKeys", func(t *testing.T) {
			again := newSigner(t, alice.ID, alice.DeviceID)
			if r := s.do(t, "POST", v3+"/keys/upload", alice.Token, map[string]any{"device_keys": again.deviceKeys(t)}); r.Status != http.StatusOK {
				t.Fatalf("upload of new identity keys: got %d %s, want 200", r.Status, r.Raw)
			}
			stored := s.queryDevices(t, bob, alice.ID)
			if keys, _ := stored[alice.DeviceID]["keys"].(map[string]any); keys["ed25519:"+alice.DeviceID] != again.pub {
				t.Errorf("alice's identity key: got %v, want the new %s", keys, again.pub)
			}
		})
	})
}

// claimKeys claims a signed_curve25519 key of each listed user's devices.
func (s *testServer) claimKeys(u user, want map[string][]string) (map[string]map[string]map[string]any, response, error) {
	req := map[string]map[string]string{}
	for userID, devices := range want {
		req[userID] = map[string]string{}
		for _, d := range devices {
			req[userID][d] = "signed_curve25519"
		}
	}
	r, err := s.send(context.Background(), "POST", v3+"/keys/claim", u.Token, map[string]any{"one_time_keys": req}, nil)
	if err != nil || r.Status != http.StatusOK {
		return nil, r, err
	}
	var body struct {
		OneTimeKeys map[string]map[string]map[string]any `json:"one_time_keys"`
	}
	err = json.Unmarshal(r.Raw, &body)
	return body.OneTimeKeys, r, err
}

// syncKeyCounts returns what a sync tells the device about its keys.
func (s *testServer) syncKeyCounts(t *testing.T, u user) (otks int, unusedFallback []string) {
	t.Helper()
	r := s.do(t, "GET", v3+"/sync?timeout=0", u.Token, nil)
	wantOK(t, r)
	var body struct {
		Counts   map[string]int `json:"device_one_time_keys_count"`
		Fallback *[]string      `json:"device_unused_fallback_key_types"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatal(err)
	}
	if _, ok := body.Counts["signed_curve25519"]; !ok {
		t.Errorf("sync: device_one_time_keys_count %v has no signed_curve25519 count, want it even when 0", body.Counts)
	}
	if body.Fallback == nil {
		t.Fatalf("sync: no device_unused_fallback_key_types in %s", r.Raw)
	}
	return body.Counts["signed_curve25519"], *body.Fallback
}

// TestAPI_KeysClaim: each one-time key is handed out once, also to claims
// that race; then the fallback key, which sync then reports as used.
func TestAPI_KeysClaim(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		dev := newSigner(t, bob.ID, bob.DeviceID)
		const otks, claims = 12, 16
		wantOK(t, s.uploadKeys(t, bob, map[string]any{
			"device_keys": dev.deviceKeys(t), "one_time_keys": dev.oneTimeKeys(t, "K", otks),
			"fallback_keys": map[string]any{"signed_curve25519:FB": dev.sign(t, map[string]any{"key": "fallback", "fallback": true})},
		}))
		if n, fallback := s.syncKeyCounts(t, bob); n != otks || !slices.Equal(fallback, []string{"signed_curve25519"}) {
			t.Fatalf("bob's sync before claims: got %d one-time keys and unused fallback %v, want %d and [signed_curve25519]", n, fallback, otks)
		}

		t.Run("OKConcurrent", func(t *testing.T) {
			var (
				mu     sync.Mutex
				handed = map[string]int{}
				wg     sync.WaitGroup
			)
			for i := 0; i < claims; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, r, err := s.claimKeys(alice, map[string][]string{bob.ID: {bob.DeviceID}})
					if err != nil || r.Status != http.StatusOK {
						t.Errorf("claim: got %d %s (%v), want 200", r.Status, r.Raw, err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for keyID := range got[bob.ID][bob.DeviceID] {
						handed[keyID]++
					}
				}()
			}
			wg.Wait()
			for i := 0; i < otks; i++ {
				if id := fmt.Sprintf("signed_curve25519:K%d", i); handed[id] != 1 {
					t.Errorf("one-time key %s: handed out %d times, want once", id, handed[id])
				}
			}
			if n := handed["signed_curve25519:FB"]; n != claims-otks {
				t.Errorf("fallback key: handed out %d times, want %d (the claims after the one-time keys ran out)", n, claims-otks)
			}
		})

		t.Run("FallbackUsed", func(t *testing.T) {
			if n, fallback := s.syncKeyCounts(t, bob); n != 0 || len(fallback) != 0 {
				t.Errorf("bob's sync after the claims: got %d one-time keys and unused fallback %v, want 0 and none", n, fallback)
			}
			wantOK(t, s.uploadKeys(t, bob, map[string]any{"fallback_keys": map[string]any{
				"signed_curve25519:FB2": dev.sign(t, map[string]any{"key": "fallback 2", "fallback": true}),
			}}))
			if _, fallback := s.syncKeyCounts(t, bob); !slices.Equal(fallback, []string{"signed_curve25519"}) {
				t.Errorf("bob's sync after a new fallback key: got unused fallback %v, want [signed_curve25519]", fallback)
			}
		})

		t.Run("UnknownUsersAndDevices", func(t *testing.T) {
			// No failure for users or devices this server does not know:
			// they are missing from the answer.
			got, r, err := s.claimKeys(alice, map[string][]string{userID("nobody"): {"DEV"}, bob.ID: {"NOSUCHDEVICE"}})
			if err != nil || r.Status != http.StatusOK {
				t.Fatalf("claim: got %d %s (%v), want 200", r.Status, r.Raw, err)
			}
			if len(got) != 0 {
				t.Errorf("claim for unknown users and devices: got %v, want no keys", got)
			}
			if failures, _ := r.Body["failures"].(map[string]any); len(failures) != 0 {
				t.Errorf("claim for unknown users and devices: got failures %v, want none", failures)
			}
		})

		t.Run("ErrBadInput", func(t *testing.T) {
			for _, body := range []any{
				map[string]any{"one_time_keys": map[string]any{"not-a-user": map[string]string{"DEV": "signed_curve25519"}}},
				map[string]any{"one_time_keys": map[string]any{bob.ID: []string{bob.DeviceID}}},
				map[string]any{"one_time_keys": "keys"},
			} {
				r := s.do(t, "POST", v3+"/keys/claim", alice.Token, body)
				if r.Status != http.StatusBadRequest || (r.str("errcode") != "M_INVALID_PARAM" && r.str("errcode") != "M_BAD_JSON") {
					t.Errorf("claim %v: got %d %s, want 400 M_INVALID_PARAM or M_BAD_JSON", body, r.Status, r.Raw)
				}
			}
		})
	})
}

// TestAPI_KeysQuery: devices with their display names, only the requested
// ones, and an unknown user's devices empty.
func TestAPI_KeysQuery(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		phone := s.mustLogin(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		for _, u := range []user{alice, phone} {
			wantOK(t, s.uploadKeys(t, u, map[string]any{"device_keys": newSigner(t, u.ID, u.DeviceID).deviceKeys(t)}))
		}
		wantOK(t, s.do(t, "PUT", v3+"/devices/"+url.PathEscape(phone.DeviceID), phone.Token, map[string]any{"display_name": "Phone"}))

		r := s.do(t, "POST", v3+"/keys/query", bob.Token, map[string]any{"device_keys": map[string]any{
			alice.ID: []string{phone.DeviceID}, userID("nobody"): []string{},
		}})
		wantOK(t, r)
		var body struct {
			DeviceKeys map[string]map[string]struct {
				DeviceID string `json:"device_id"`
				Unsigned struct {
					Name string `json:"device_display_name"`
				} `json:"unsigned"`
			} `json:"device_keys"`
		}
		if err := json.Unmarshal(r.Raw, &body); err != nil {
			t.Fatal(err)
		}
		got := body.DeviceKeys[alice.ID]
		if len(got) != 1 || got[phone.DeviceID].DeviceID != phone.DeviceID || got[phone.DeviceID].Unsigned.Name != "Phone" {
			t.Errorf("alice's phone: got %s, want only it, named Phone", r.Raw)
		}
		if nobody, ok := body.DeviceKeys[userID("nobody")]; !ok || len(nobody) != 0 {
			t.Errorf("unknown user: got %v (present %v), want an empty map", nobody, ok)
		}
		for _, tc := range []struct {
			name, path, errcode string
			body                any
		}{
			{"QueryInvalidUserID", "query", "M_INVALID_PARAM", map[string]any{"device_keys": map[string]any{"nobody": []string{}}}},
			{"QueryNotObject", "query", "M_BAD_JSON", map[string]any{"device_keys": []string{alice.ID}}},
			{"QueryDevicesNotList", "query", "M_BAD_JSON", map[string]any{"device_keys": map[string]any{alice.ID: "DEVICE"}}},
			{"QueryNotJSON", "query", "M_NOT_JSON", rawBody(`{"device_keys":`)},
			{"SignaturesNotObjects", "signatures/upload", "M_BAD_JSON", map[string]any{alice.ID: []string{"key"}}},
			{"SignaturesNotJSON", "signatures/upload", "M_NOT_JSON", rawBody("signatures")},
		} {
			t.Run("Err"+tc.name, func(t *testing.T) {
				wantErr(t, s.do(t, "POST", v3+"/keys/"+tc.path, bob.Token, tc.body), http.StatusBadRequest, tc.errcode)
			})
		}
	})
}

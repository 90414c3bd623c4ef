package clientapi_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// e2eeSync is the part of a /sync response the to-device and device list
// tests read.
type e2eeSync struct {
	NextBatch string `json:"next_batch"`
	ToDevice  struct {
		Events []struct {
			Sender  string         `json:"sender"`
			Type    string         `json:"type"`
			Content map[string]any `json:"content"`
		} `json:"events"`
	} `json:"to_device"`
	DeviceLists struct {
		Changed []string `json:"changed"`
		Left    []string `json:"left"`
	} `json:"device_lists"`
}

func (s *testServer) e2eeSync(t *testing.T, u user, since string) e2eeSync {
	t.Helper()
	var body e2eeSync
	s.getJSON(t, "GET", syncPath(since), u, nil, &body)
	return body
}

// toDeviceBodies syncs and returns the "n" fields of the device's new
// to-device messages, and the next since.
func (s *testServer) toDeviceBodies(t *testing.T, u user, since string) ([]string, string) {
	t.Helper()
	resp := s.e2eeSync(t, u, since)
	var out []string
	for _, ev := range resp.ToDevice.Events {
		n, _ := ev.Content["n"].(string)
		out = append(out, n)
	}
	return out, resp.NextBatch
}

func sendToDevicePath(typ, txn string) string {
	return v3 + "/sendToDevice/" + url.PathEscape(typ) + "/" + url.PathEscape(txn)
}

// TestAPI_SendToDevice: a message reaches the named device or, with "*",
// every device of the user; a retried transaction id delivers nothing
// again; messages for devices that do not exist are not stored; a refused
// request stores nothing and leaves its transaction id unused.
func TestAPI_SendToDevice(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		phone := s.mustLogin(t, "bob", "bob password")
		since := map[string]string{}
		for _, u := range []user{bob, phone} {
			since[u.DeviceID] = s.e2eeSync(t, u, "").NextBatch
		}
		// want checks what each of bob's devices receives next.
		want := func(t *testing.T, wantBob, wantPhone []string) {
			t.Helper()
			for _, tc := range []struct {
				u    user
				want []string
			}{{bob, wantBob}, {phone, wantPhone}} {
				got, next := s.toDeviceBodies(t, tc.u, since[tc.u.DeviceID])
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: got messages %q, want %q", tc.u.DeviceID, got, tc.want)
				}
				since[tc.u.DeviceID] = next
			}
		}
		msg := func(n string) map[string]any { return map[string]any{"n": n} }

		t.Run("OKAllDevices", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", sendToDevicePath("org.example.ping", "t1"), alice.Token, map[string]any{
				"messages": map[string]any{bob.ID: map[string]any{"*": msg("all")}},
			}))
			want(t, []string{"all"}, []string{"all"})
		})
		t.Run("OKOneDevice", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", sendToDevicePath("org.example.ping", "t2"), alice.Token, map[string]any{
				"messages": map[string]any{bob.ID: map[string]any{phone.DeviceID: msg("phone")}},
			}))
			want(t, nil, []string{"phone"})
		})
		t.Run("OKRetriedTransaction", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", sendToDevicePath("org.example.ping", "t1"), alice.Token, map[string]any{
				"messages": map[string]any{bob.ID: map[string]any{"*": msg("again")}},
			}))
			want(t, nil, nil)
		})
		t.Run("UnknownDevicesNotStored", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", sendToDevicePath("org.example.ping", "t3"), alice.Token, map[string]any{
				"messages": map[string]any{
					bob.ID:           map[string]any{"NOSUCHDEVICE": msg("lost")},
					userID("nobody"): map[string]any{"*": msg("lost"), "DEV": msg("lost")},
				},
			}))
			for _, target := range [][2]string{{bob.ID, "NOSUCHDEVICE"}, {userID("nobody"), "DEV"}} {
				stored, err := s.DB.ToDeviceMessages(t.Context(), target[0], target[1], 0, math.MaxInt64, 10)
				if err != nil || len(stored) != 0 {
					t.Errorf("messages for %s/%s: got %d (%v), want none stored", target[0], target[1], len(stored), err)
				}
			}
			want(t, nil, nil)
		})
		t.Run("ErrBadInput", func(t *testing.T) {
			for _, tc := range []struct {
				name, errcode string
				body          any
			}{
				{"ContentNotObject", "M_BAD_JSON", map[string]any{"messages": map[string]any{
					bob.ID: map[string]any{phone.DeviceID: msg("first"), bob.DeviceID: "text"}}}},
				{"DevicesNotObject", "M_BAD_JSON", map[string]any{"messages": map[string]any{bob.ID: []string{"*"}}}},
				{"InvalidUserID", "M_INVALID_PARAM", map[string]any{"messages": map[string]any{
					bob.ID: map[string]any{"*": msg("first")}, "bob": map[string]any{"*": msg("x")}}}},
				{"NotJSON", "M_NOT_JSON", rawBody("{")},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wantErr(t, s.do(t, "PUT", sendToDevicePath("org.example.ping", "t4"), alice.Token, tc.body),
						http.StatusBadRequest, tc.errcode)
					want(t, nil, nil)
				})
			}
			// The refused requests did not use up the transaction id.
			wantOK(t, s.do(t, "PUT", sendToDevicePath("org.example.ping", "t4"), alice.Token, map[string]any{
				"messages": map[string]any{bob.ID: map[string]any{bob.DeviceID: msg("t4")}},
			}))
			want(t, []string{"t4"}, nil)
		})
	})
}

// TestAPI_ToDeviceOrder: many messages come in the order sent, a page per
// sync, none lost and none twice.
func TestAPI_ToDeviceOrder(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		since := s.e2eeSync(t, bob, "").NextBatch
		const n = 230
		var want []string
		for i := 0; i < n; i++ {
			want = append(want, fmt.Sprint(i))
			wantOK(t, s.do(t, "PUT", sendToDevicePath("org.example.seq", fmt.Sprint("seq", i)), alice.Token, map[string]any{
				"messages": map[string]any{bob.ID: map[string]any{bob.DeviceID: map[string]any{"n": fmt.Sprint(i)}}},
			}))
		}
		var got []string
		pages := 0
		for pages < n {
			page, next := s.toDeviceBodies(t, bob, since)
			since = next
			if len(page) == 0 {
				break
			}
			got = append(got, page...)
			pages++
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %d messages %q, want the %d in order", len(got), got, n)
		}
		if pages < 2 {
			t.Errorf("got all %d messages in %d sync, want them paged", n, pages)
		}
	})
}

// TestAPI_DeviceLists: users sharing a room learn of each other's device
// changes in device_lists.changed, and of a user they no longer share a
// room with in device_lists.left; /keys/changes answers the same between
// two tokens.
func TestAPI_DeviceLists(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "private_chat", "invite": []string{bob.ID}})
		s.dirJoin(t, bob, room)
		start := s.e2eeSync(t, alice, "").NextBatch
		since := start

		step := func(t *testing.T, wantChanged, wantLeft []string) string {
			t.Helper()
			resp := s.e2eeSync(t, alice, since)
			if !slices.Equal(resp.DeviceLists.Changed, wantChanged) || !slices.Equal(resp.DeviceLists.Left, wantLeft) {
				t.Errorf("alice's device_lists: got changed %q left %q, want changed %q left %q",
					resp.DeviceLists.Changed, resp.DeviceLists.Left, wantChanged, wantLeft)
			}
			since = resp.NextBatch
			return since
		}
		changes := func(t *testing.T, from, to string) (changed, left []string) {
			t.Helper()
			r := s.do(t, "GET", v3+"/keys/changes?from="+url.QueryEscape(from)+"&to="+url.QueryEscape(to), alice.Token, nil)
			wantOK(t, r)
			var body struct{ Changed, Left []string }
			if err := json.Unmarshal(r.Raw, &body); err != nil {
				t.Fatal(err)
			}
			return body.Changed, body.Left
		}
		t.Run("NewKeys", func(t *testing.T) {
			for _, u := range []user{bob, carol} {
				wantOK(t, s.uploadKeys(t, u, map[string]any{"device_keys": newSigner(t, u.ID, u.DeviceID).deviceKeys(t)}))
			}
			afterKeys := step(t, []string{bob.ID}, nil) // not carol: she shares no room with alice
			if changed, left := changes(t, start, afterKeys); !slices.Equal(changed, []string{bob.ID}) || len(left) != 0 {
				t.Errorf("keys/changes: got changed %q left %q, want changed [bob]", changed, left)
			}
		})
		t.Run("NewDevice", func(t *testing.T) {
			phone := s.mustLogin(t, "bob", "bob password")
			wantOK(t, s.uploadKeys(t, phone, map[string]any{"device_keys": newSigner(t, phone.ID, phone.DeviceID).deviceKeys(t)}))
			step(t, []string{bob.ID}, nil)
			wantOK(t, s.do(t, "POST", v3+"/logout", phone.Token, map[string]any{}))
			step(t, []string{bob.ID}, nil)
		})
		t.Run("CrossSigningKeys", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", v3+"/keys/device_signing/upload", bob.Token, newCrossSigning(t, bob.ID).body(t)))
			step(t, []string{bob.ID}, nil)
		})
		t.Run("Left", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/leave", bob.Token, map[string]any{}))
			step(t, nil, []string{bob.ID})
			wantOK(t, s.uploadKeys(t, bob, map[string]any{"one_time_keys": newSigner(t, bob.ID, bob.DeviceID).oneTimeKeys(t, "X", 1)}))
			wantOK(t, s.do(t, "POST", v3+"/keys/device_signing/upload", carol.Token, newCrossSigning(t, carol.ID).body(t)))
			step(t, nil, nil)
		})

		t.Run("NewRoommate", func(t *testing.T) {
			// Joining a room makes the members' devices new to each other.
			carolSince := s.e2eeSync(t, carol, "").NextBatch
			wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/invite", alice.Token, map[string]any{"user_id": carol.ID}))
			s.dirJoin(t, carol, room)
			step(t, []string{carol.ID}, nil)
			if got := s.e2eeSync(t, carol, carolSince); !slices.Contains(got.DeviceLists.Changed, alice.ID) {
				t.Errorf("carol's device_lists.changed after joining: got %q, want alice", got.DeviceLists.Changed)
			}
		})
		t.Run("KeysChangesAfterLeaving", func(t *testing.T) {
			// Only users who share a room now count as changed (the spec's
			// "currently share a room").
			if changed, left := changes(t, start, since); !slices.Equal(changed, []string{carol.ID}) || !slices.Equal(left, []string{bob.ID}) {
				t.Errorf("keys/changes: got changed %q left %q, want changed [carol] (she joined) and left [bob]", changed, left)
			}
		})
		t.Run("OwnLeave", func(t *testing.T) {
			// Leaving the only room shared with alice: carol's client can
			// stop tracking alice's devices.
			carolSince := s.e2eeSync(t, carol, "").NextBatch
			wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/leave", carol.Token, map[string]any{}))
			if got := s.e2eeSync(t, carol, carolSince); !slices.Equal(got.DeviceLists.Left, []string{alice.ID}) {
				t.Errorf("carol's device_lists.left after leaving: got %q, want [alice]", got.DeviceLists.Left)
			}
		})
		t.Run("ErrKeysChangesTokens", func(t *testing.T) {
			for _, q := range []string{"", "?from=" + url.QueryEscape(start), "?from=nonsense&to=" + url.QueryEscape(since)} {
				wantErr(t, s.do(t, "GET", v3+"/keys/changes"+q, alice.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
	})
}

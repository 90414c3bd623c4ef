package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// mMissingParam is the spec's M_MISSING_PARAM, which mautrix-go does not
// name.
var mMissingParam = mautrix.RespError{ErrCode: "M_MISSING_PARAM"}

// dehydratedPath is the MSC3814 endpoint, under /_matrix/client.
var dehydratedPath = []any{"unstable", "org.matrix.msc3814.v1", "dehydrated_device"}

// dehydratedDevice is what GET /dehydrated_device answers.
type dehydratedDevice struct {
	DeviceID   id.DeviceID     `json:"device_id"`
	DeviceData json.RawMessage `json:"device_data"`
}

// dehydratedEvents is what POST /dehydrated_device/{id}/events answers.
type dehydratedEvents struct {
	Events    []event.Event `json:"events"`
	NextBatch string        `json:"next_batch"`
}

// newDehydrated returns a fresh identity for a dehydrated device of cli's
// user, its id the device's curve25519 key as the MSC asks.
func newDehydrated(t *testing.T, cli *mautrix.Client, seed byte) deviceIdentity {
	t.Helper()
	dev := newDeviceIdentity(t, cli)
	curve := make([]byte, 32)
	curve[0] = seed
	dev.deviceID = id.DeviceID(base64.RawStdEncoding.EncodeToString(curve))
	return dev
}

// putDehydratedBody is a PUT /dehydrated_device body for dev with one
// one-time key and a fallback key.
func putDehydratedBody(t *testing.T, dev deviceIdentity, data string) map[string]any {
	t.Helper()
	return map[string]any{
		"device_id":                   dev.deviceID,
		"device_data":                 map[string]string{"algorithm": "org.matrix.msc3814.v1.olm", "device_pickle": data},
		"initial_device_display_name": "Backup device",
		"device_keys":                 dev.deviceKeys(t),
		"one_time_keys": map[string]any{
			"signed_curve25519:AAAAAQ": dev.sign(t, map[string]any{"key": "otk-" + string(dev.deviceID)}),
		},
		"fallback_keys": map[string]any{
			"signed_curve25519:AAAAFB": dev.sign(t, map[string]any{"key": "fb-" + string(dev.deviceID), "fallback": true}),
		},
	}
}

func mustPutDehydrated(t *testing.T, cli *mautrix.Client, dev deviceIdentity, data string) {
	t.Helper()
	var resp struct {
		DeviceID id.DeviceID `json:"device_id"`
	}
	_, err := cli.MakeRequest(context.Background(), "PUT", cli.BuildClientURL(dehydratedPath...), putDehydratedBody(t, dev, data), &resp)
	if err != nil || resp.DeviceID != dev.deviceID {
		t.Fatalf("put dehydrated device: got %q (%v), want %s", resp.DeviceID, err, dev.deviceID)
	}
}

func getDehydrated(cli *mautrix.Client) (dehydratedDevice, error) {
	var d dehydratedDevice
	_, err := cli.MakeRequest(context.Background(), "GET", cli.BuildClientURL(dehydratedPath...), nil, &d)
	return d, err
}

func dehydratedEventsOf(cli *mautrix.Client, deviceID id.DeviceID, nextBatch string) (dehydratedEvents, error) {
	var resp dehydratedEvents
	body := map[string]any{}
	if nextBatch != "" {
		body["next_batch"] = nextBatch
	}
	path := append(slices.Clone(dehydratedPath), deviceID, "events")
	_, err := cli.MakeRequest(context.Background(), "POST", cli.BuildClientURL(path...), body, &resp)
	return resp, err
}

// queriedDevices returns the device ids /keys/query gives viewer for user.
func queriedDevices(t *testing.T, viewer *mautrix.Client, user id.UserID) []string {
	t.Helper()
	var query struct {
		DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
	}
	if err := postJSON(t, viewer, []any{"v3", "keys", "query"}, map[string]any{
		"device_keys": map[string][]string{string(user): {}},
	}, &query); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for d := range query.DeviceKeys[string(user)] {
		ids = append(ids, d)
	}
	slices.Sort(ids)
	return ids
}

// TestDehydratedDevice: MSC3814 as Element uses it. alice stores a
// dehydrated device, bob sees its keys and sends it a message, alice's
// next login reads it; replacing and deleting the device take its keys and
// messages with it.
func TestDehydratedDevice(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]

		versions, err := alice.Versions(ctx)
		if err != nil || !versions.UnstableFeatures["org.matrix.msc3814"] {
			t.Errorf("versions: got %v (%v), want org.matrix.msc3814", versions, err)
		}
		if _, err := getDehydrated(alice); !errors.Is(err, mautrix.MNotFound) {
			t.Fatalf("get before any: got %v, want M_NOT_FOUND", err)
		}

		first := newDehydrated(t, alice, 1)
		mustPutDehydrated(t, alice, first, "first pickle")
		got, err := getDehydrated(alice)
		if err != nil || got.DeviceID != first.deviceID ||
			string(got.DeviceData) != `{"algorithm":"org.matrix.msc3814.v1.olm","device_pickle":"first pickle"}` {
			t.Fatalf("get: got %s %s (%v), want %s with its data", got.DeviceID, got.DeviceData, err, first.deviceID)
		}
		if ids := queriedDevices(t, bob, alice.UserID); !slices.Contains(ids, string(first.deviceID)) {
			t.Errorf("bob's /keys/query: got %v, want the dehydrated device", ids)
		}
		if ids := deviceIDs(t, alice); !slices.Contains(ids, first.deviceID) {
			t.Errorf("alice's /devices: got %v, want the dehydrated device", ids)
		}
		var claim struct {
			OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
		}
		if err := postJSON(t, bob, []any{"v3", "keys", "claim"}, map[string]any{"one_time_keys": map[string]any{
			string(alice.UserID): map[string]string{string(first.deviceID): "signed_curve25519"},
		}}, &claim); err != nil || claim.OneTimeKeys[string(alice.UserID)][string(first.deviceID)]["signed_curve25519:AAAAAQ"] == nil {
			t.Errorf("claim the dehydrated device's key: got %v (%v), want AAAAAQ", claim.OneTimeKeys, err)
		}

		t.Run("Events", func(t *testing.T) {
			for _, text := range []string{"one", "two"} {
				if _, err := bob.SendToDevice(ctx, event.NewEventType("org.example.room_key"), &mautrix.ReqSendToDevice{
					Messages: map[id.UserID]map[id.DeviceID]*event.Content{alice.UserID: {first.deviceID: {Raw: map[string]any{"k": text}}}},
				}); err != nil {
					t.Fatal(err)
				}
			}
			page, err := dehydratedEventsOf(alice, first.deviceID, "")
			if err != nil || len(page.Events) != 2 || page.Events[0].Sender != bob.UserID ||
				page.Events[1].Content.Raw["k"] != "two" || page.NextBatch == "" {
				t.Fatalf("events: got %+v (%v), want bob's two messages in order", page, err)
			}
			rest, err := dehydratedEventsOf(alice, first.deviceID, page.NextBatch)
			if err != nil || len(rest.Events) != 0 || rest.NextBatch != page.NextBatch {
				t.Errorf("events after next_batch: got %+v (%v), want none and the same token", rest, err)
			}
			// The MSC keeps read messages so that a rehydration can restart.
			again, err := dehydratedEventsOf(alice, first.deviceID, "")
			if err != nil || len(again.Events) != 2 {
				t.Errorf("events read again: got %d (%v), want 2", len(again.Events), err)
			}
		})

		t.Run("ErrBadInput", func(t *testing.T) {
			other := newDehydrated(t, alice, 9)
			cases := []struct {
				name string
				edit func(map[string]any)
				want mautrix.RespError
			}{
				{"MissingDeviceData", func(b map[string]any) { delete(b, "device_data") }, mMissingParam},
				{"DeviceDataNotObject", func(b map[string]any) { b["device_data"] = "pickle" }, mautrix.MBadJSON},
				{"MissingDeviceID", func(b map[string]any) { delete(b, "device_id") }, mMissingParam},
				{"MissingDeviceKeys", func(b map[string]any) { delete(b, "device_keys") }, mMissingParam},
				{"KeysOfAnotherDevice", func(b map[string]any) { b["device_keys"] = first.deviceKeys(t) }, mautrix.MInvalidParam},
				{"ForgedSignature", func(b map[string]any) {
					forger := newDeviceIdentity(t, alice)
					forger.deviceID = other.deviceID
					var keys map[string]any
					_ = json.Unmarshal(forger.deviceKeys(t), &keys)
					keys["keys"].(map[string]any)["ed25519:"+string(other.deviceID)] = other.pub
					b["device_keys"] = keys
				}, mautrix.MInvalidParam},
				{"LoggedInDeviceID", func(b map[string]any) {
					me := newDeviceIdentity(t, alice)
					b["device_id"], b["device_keys"] = me.deviceID, me.deviceKeys(t)
					delete(b, "one_time_keys")
					delete(b, "fallback_keys")
				}, mautrix.MInvalidParam},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					body := putDehydratedBody(t, other, "other pickle")
					c.edit(body)
					_, err := alice.MakeRequest(ctx, "PUT", alice.BuildClientURL(dehydratedPath...), body, nil)
					if !errors.Is(err, c.want) {
						t.Errorf("got %v, want %s", err, c.want.ErrCode)
					}
					if got, err := getDehydrated(alice); err != nil || got.DeviceID != first.deviceID {
						t.Errorf("after a refused put: got %s (%v), want %s unchanged", got.DeviceID, err, first.deviceID)
					}
				})
			}
			if _, err := dehydratedEventsOf(alice, alice.DeviceID, ""); !errors.Is(err, mautrix.MForbidden) {
				t.Errorf("events of a device that is not the dehydrated one: got %v, want M_FORBIDDEN", err)
			}
			if _, err := dehydratedEventsOf(bob, first.deviceID, ""); !errors.Is(err, mautrix.MNotFound) {
				t.Errorf("events of another user's dehydrated device: got %v, want M_NOT_FOUND", err)
			}
			if _, err := dehydratedEventsOf(alice, first.deviceID, "not a token"); !errors.Is(err, mautrix.MInvalidParam) {
				t.Errorf("events with a malformed next_batch: got %v, want M_INVALID_PARAM", err)
			}
		})

		second := newDehydrated(t, alice, 2)
		mustPutDehydrated(t, alice, second, "second pickle")
		if got, err := getDehydrated(alice); err != nil || got.DeviceID != second.deviceID {
			t.Fatalf("get after replace: got %s (%v), want %s", got.DeviceID, err, second.deviceID)
		}
		ids := queriedDevices(t, bob, alice.UserID)
		if slices.Contains(ids, string(first.deviceID)) || !slices.Contains(ids, string(second.deviceID)) {
			t.Errorf("keys after replace: got %v, want %s and not %s", ids, second.deviceID, first.deviceID)
		}
		if _, err := dehydratedEventsOf(alice, first.deviceID, ""); !errors.Is(err, mautrix.MForbidden) {
			t.Errorf("events of the replaced device: got %v, want M_FORBIDDEN", err)
		}
		if page, err := dehydratedEventsOf(alice, second.deviceID, ""); err != nil || len(page.Events) != 0 {
			t.Errorf("events of the new device: got %+v (%v), want none", page, err)
		}

		var deleted struct {
			DeviceID id.DeviceID `json:"device_id"`
		}
		if _, err := alice.MakeRequest(ctx, "DELETE", alice.BuildClientURL(dehydratedPath...), nil, &deleted); err != nil ||
			deleted.DeviceID != second.deviceID {
			t.Fatalf("delete: got %q (%v), want %s", deleted.DeviceID, err, second.deviceID)
		}
		if _, err := getDehydrated(alice); !errors.Is(err, mautrix.MNotFound) {
			t.Errorf("get after delete: got %v, want M_NOT_FOUND", err)
		}
		if _, err := dehydratedEventsOf(alice, second.deviceID, ""); !errors.Is(err, mautrix.MNotFound) {
			t.Errorf("events after delete: got %v, want M_NOT_FOUND", err)
		}
		if ids := queriedDevices(t, bob, alice.UserID); slices.Contains(ids, string(second.deviceID)) {
			t.Errorf("keys after delete: got %v, want no %s", ids, second.deviceID)
		}
		if _, err := alice.MakeRequest(ctx, "DELETE", alice.BuildClientURL(dehydratedPath...), nil, nil); !errors.Is(err, mautrix.MNotFound) {
			t.Errorf("delete with none: got %v, want M_NOT_FOUND", err)
		}

		t.Run("DeleteThroughDevices", func(t *testing.T) {
			third := newDehydrated(t, alice, 3)
			mustPutDehydrated(t, alice, third, "third pickle")
			mustDeleteDevice(t, alice, "alice", "alice password", third.deviceID)
			if _, err := getDehydrated(alice); !errors.Is(err, mautrix.MNotFound) {
				t.Errorf("get after DELETE /devices: got %v, want M_NOT_FOUND", err)
			}
		})
	})
}

// mustDeleteDevice deletes a device of cli's user through DELETE
// /devices/{deviceId} with password user-interactive auth.
func mustDeleteDevice(t *testing.T, cli *mautrix.Client, user, password string, deviceID id.DeviceID) {
	t.Helper()
	ctx := context.Background()
	url := cli.BuildClientURL("v3", "devices", deviceID)
	body, err := cli.MakeRequest(ctx, "DELETE", url, struct{}{}, nil)
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || !httpErr.IsStatus(http.StatusUnauthorized) {
		t.Fatalf("delete without auth: got %v, want a 401 UIA challenge", err)
	}
	var uia struct {
		Session string `json:"session"`
	}
	if err := json.Unmarshal(body, &uia); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.MakeRequest(ctx, "DELETE", url, map[string]any{"auth": map[string]any{
		"type": "m.login.password", "session": uia.Session,
		"identifier": map[string]string{"type": "m.id.user", "user": user}, "password": password,
	}}, nil); err != nil {
		t.Fatalf("delete device %s: %v", deviceID, err)
	}
}

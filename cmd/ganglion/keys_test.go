package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// deviceIdentity is a device's ed25519 signing key, as a client has it.
type deviceIdentity struct {
	userID   id.UserID
	deviceID id.DeviceID
	priv     ed25519.PrivateKey
	pub      string
}

func newDeviceIdentity(t *testing.T, cli *mautrix.Client) deviceIdentity {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return deviceIdentity{userID: cli.UserID, deviceID: cli.DeviceID, priv: priv, pub: base64.RawStdEncoding.EncodeToString(pub)}
}

// sign signs a JSON object with the device's key.
func (d deviceIdentity) sign(t *testing.T, v any) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := gmsl.SignJSON(string(d.userID), gmsl.KeyID("ed25519:"+d.deviceID), d.priv, raw)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func (d deviceIdentity) deviceKeys(t *testing.T) json.RawMessage {
	return d.sign(t, map[string]any{
		"user_id": d.userID, "device_id": d.deviceID,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys": map[string]string{
			"ed25519:" + string(d.deviceID):    d.pub,
			"curve25519:" + string(d.deviceID): base64.RawStdEncoding.EncodeToString(make([]byte, 32)),
		},
	})
}

func postJSON(t *testing.T, cli *mautrix.Client, path []any, body, out any) error {
	t.Helper()
	_, err := cli.MakeRequest(context.Background(), "POST", cli.BuildClientURL(path...), body, out)
	return err
}

// TestKeys: device keys, one-time and fallback keys, claiming exactly once,
// to-device messages through sync, and device list changes.
func TestKeys(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		mustPrivateRoom(t, alice, bob)
		aliceSince := mustSync(t, alice, "", 0, "").NextBatch

		bobDev := newDeviceIdentity(t, bob)
		var counts struct {
			Counts map[string]int `json:"one_time_key_counts"`
		}
		otks := map[string]any{}
		for _, k := range []string{"AAAAAQ", "AAAAAg"} {
			otks["signed_curve25519:"+k] = bobDev.sign(t, map[string]any{"key": base64.RawStdEncoding.EncodeToString([]byte(k + "0000000000000000000000000"))})
		}
		fallback := bobDev.sign(t, map[string]any{"key": "fallbackkey", "fallback": true})
		err := postJSON(t, bob, []any{"v3", "keys", "upload"}, map[string]any{
			"device_keys": bobDev.deviceKeys(t), "one_time_keys": otks,
			"fallback_keys": map[string]any{"signed_curve25519:AAAAZZ": fallback},
		}, &counts)
		if err != nil || counts.Counts["signed_curve25519"] != 2 {
			t.Fatalf("upload: got %v (%v), want 2 signed_curve25519 keys", counts.Counts, err)
		}
		if got := mustSync(t, bob, "", 0, "").FallbackKeys; !slices.Equal(got, []id.KeyAlgorithm{id.KeyAlgorithmSignedCurve25519}) {
			t.Errorf("bob's sync before any claim: device_unused_fallback_key_types %v, want [signed_curve25519]", got)
		}

		t.Run("ErrForgedSignature", func(t *testing.T) {
			forger := newDeviceIdentity(t, bob)
			keys := forger.deviceKeys(t)
			var obj map[string]any
			_ = json.Unmarshal(keys, &obj)
			obj["keys"].(map[string]any)["ed25519:"+string(bob.DeviceID)] = bobDev.pub // claims bob's key, signed by another
			err := postJSON(t, bob, []any{"v3", "keys", "upload"}, map[string]any{"device_keys": obj}, nil)
			if !errors.Is(err, mautrix.MInvalidParam) {
				t.Errorf("forged device keys: got %v, want M_INVALID_PARAM", err)
			}
		})

		t.Run("ErrMissingFields", func(t *testing.T) {
			// algorithms, keys and signatures are required (Complement's
			// TestUploadKey "Rejects invalid device keys").
			err := postJSON(t, bob, []any{"v3", "keys", "upload"}, map[string]any{
				"device_keys": map[string]any{"user_id": bob.UserID, "device_id": bob.DeviceID},
			}, nil)
			if !errors.Is(err, mautrix.MBadJSON) {
				t.Errorf("device keys without algorithms and keys: got %v, want M_BAD_JSON", err)
			}
		})
		t.Run("OKUnsigned", func(t *testing.T) {
			// Stored for clients to judge, as Complement's
			// TestDeviceListUpdates uploads them.
			carol := mustRegister(t, srv.URL, "carol", "carol password")
			dev := newDeviceIdentity(t, carol)
			err := postJSON(t, carol, []any{"v3", "keys", "upload"}, map[string]any{"device_keys": map[string]any{
				"user_id": carol.UserID, "device_id": carol.DeviceID, "algorithms": []string{"m.megolm.v1.aes-sha2"},
				"keys": map[string]string{"ed25519:" + string(carol.DeviceID): dev.pub, "curve25519:" + string(carol.DeviceID): dev.pub},
			}}, nil)
			if err != nil {
				t.Errorf("unsigned device keys: got %v, want them stored", err)
			}
		})

		var query struct {
			DeviceKeys map[string]map[string]json.RawMessage `json:"device_keys"`
		}
		if err := postJSON(t, alice, []any{"v3", "keys", "query"}, map[string]any{
			"device_keys": map[string][]string{string(bob.UserID): {}},
		}, &query); err != nil {
			t.Fatal(err)
		}
		if _, ok := query.DeviceKeys[string(bob.UserID)][string(bob.DeviceID)]; !ok {
			t.Fatalf("query: got %v, want bob's device", query.DeviceKeys)
		}

		claim := func() map[string]json.RawMessage {
			var resp struct {
				OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
			}
			if err := postJSON(t, alice, []any{"v3", "keys", "claim"}, map[string]any{
				"one_time_keys": map[string]any{string(bob.UserID): map[string]string{string(bob.DeviceID): "signed_curve25519"}},
			}, &resp); err != nil {
				t.Fatal(err)
			}
			return resp.OneTimeKeys[string(bob.UserID)][string(bob.DeviceID)]
		}
		seen := map[string]bool{}
		for i := 0; i < 2; i++ {
			for keyID := range claim() {
				if seen[keyID] {
					t.Errorf("key %s handed out twice", keyID)
				}
				seen[keyID] = true
			}
		}
		if last := claim(); last["signed_curve25519:AAAAZZ"] == nil {
			t.Errorf("claim with no one-time key left: got %v, want the fallback key", last)
		}
		bobSync := mustSync(t, bob, "", 0, "")
		if n := bobSync.DeviceOTKCount.SignedCurve25519; n != 0 {
			t.Errorf("bob's sync: one-time key count %d, want 0", n)
		}
		if len(bobSync.FallbackKeys) != 0 {
			t.Errorf("bob's sync after the fallback key was claimed: device_unused_fallback_key_types %v, want none", bobSync.FallbackKeys)
		}

		// alice learns that bob's devices changed.
		changed := mustSync(t, alice, aliceSince, 0, "")
		found := false
		for _, u := range changed.DeviceLists.Changed {
			found = found || u == bob.UserID
		}
		if !found {
			t.Errorf("alice's device_lists.changed: got %v, want bob", changed.DeviceLists.Changed)
		}

		// To-device: delivered once, gone after the next sync acknowledges it.
		msg := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{
			bob.UserID: {"*": {Raw: map[string]any{"hello": "bob"}}},
		}}
		if _, err := alice.SendToDevice(ctx, event.NewEventType("org.example.ping"), msg); err != nil {
			t.Fatal(err)
		}
		got := mustSync(t, bob, bobSync.NextBatch, 0, "")
		if len(got.ToDevice.Events) != 1 || got.ToDevice.Events[0].Sender != alice.UserID {
			t.Fatalf("to-device: got %d events, want alice's message", len(got.ToDevice.Events))
		}
		again := mustSync(t, bob, got.NextBatch, 0, "")
		if len(again.ToDevice.Events) != 0 {
			t.Errorf("to-device after acknowledgement: got %d events, want none", len(again.ToDevice.Events))
		}
		repeat := mustSync(t, bob, bobSync.NextBatch, 0, "")
		if len(repeat.ToDevice.Events) != 0 {
			t.Errorf("to-device with an acknowledged token: got %d events, want none (deleted)", len(repeat.ToDevice.Events))
		}
	})
}

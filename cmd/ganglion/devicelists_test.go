package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// TestDeviceLists_WakeRoommates: a change of bob's devices or keys answers
// alice's waiting long-poll at once with bob in device_lists.changed, so
// that her next encrypted message reaches his new device.
func TestDeviceLists_WakeRoommates(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		cfg.Presence.Enabled = false // its wake-ups would hide a missing one
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		mustPrivateRoom(t, alice, bob)
		since := mustSync(t, alice, "", 0, "").NextBatch

		// woken runs change while alice long-polls and checks that her
		// sync returns, well before its timeout, with bob changed.
		woken := func(t *testing.T, change func()) {
			t.Helper()
			// Catch up first, so that only change can answer the
			// long-poll; that sync leaves a listener behind, cleared so
			// that waitForWaiter sees the long-poll's.
			since = mustSync(t, alice, since, 0, "").NextBatch
			srv.srv.notifier.Wake(alice.UserID.String())
			type result struct {
				resp *mautrix.RespSync
				err  error
			}
			pollCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan result, 1)
			go func() {
				resp, err := alice.FullSyncRequest(pollCtx, mautrix.ReqSync{Since: since, Timeout: 60000})
				done <- result{resp, err}
			}()
			waitForWaiter(t, srv, alice.UserID)
			change()
			select {
			case got := <-done:
				if got.err != nil {
					t.Fatal(got.err)
				}
				if !slices.Contains(got.resp.DeviceLists.Changed, bob.UserID) {
					t.Errorf("alice's device_lists.changed: got %v, want bob", got.resp.DeviceLists.Changed)
				}
				since = got.resp.NextBatch
			case <-time.After(15 * time.Second):
				t.Fatal("alice's long-poll was not woken by bob's device change")
			}
		}
		var phone *mautrix.Client
		t.Run("DeviceKeys", func(t *testing.T) {
			phone = mustLogin(t, srv.URL, "bob", "bob password", "phone")
			woken(t, func() {
				dev := newDeviceIdentity(t, phone)
				if err := postJSON(t, phone, []any{"v3", "keys", "upload"}, map[string]any{"device_keys": dev.deviceKeys(t)}, nil); err != nil {
					t.Fatal(err)
				}
			})
		})
		t.Run("Logout", func(t *testing.T) {
			woken(t, func() {
				if _, err := phone.Logout(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
		t.Run("CrossSigningKeys", func(t *testing.T) {
			dev := newDeviceIdentity(t, bob)
			if err := postJSON(t, bob, []any{"v3", "keys", "upload"}, map[string]any{"device_keys": dev.deviceKeys(t)}, nil); err != nil {
				t.Fatal(err)
			}
			master, selfSigning := newCrossSigningKey(t, bob), newCrossSigningKey(t, bob)
			woken(t, func() {
				if err := postJSON(t, bob, []any{"v3", "keys", "device_signing", "upload"}, map[string]any{
					"master_key":       master.crossSigningKey("master"),
					"self_signing_key": master.sign(t, selfSigning.crossSigningKey("self_signing")),
				}, nil); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("Signatures", func(t *testing.T) {
				woken(t, func() {
					var resp struct {
						Failures map[string]any `json:"failures"`
					}
					if err := postJSON(t, bob, []any{"v3", "keys", "signatures", "upload"}, map[string]any{
						string(bob.UserID): map[string]any{string(bob.DeviceID): selfSigning.sign(t, dev.deviceKeys(t))},
					}, &resp); err != nil || len(resp.Failures) != 0 {
						t.Fatalf("signatures upload: got failures %v (%v), want none", resp.Failures, err)
					}
				})
			})
		})
	})
}

// newCrossSigningKey is a cross-signing key of the client's user: a
// signing key named by its public key.
func newCrossSigningKey(t *testing.T, cli *mautrix.Client) deviceIdentity {
	t.Helper()
	k := newDeviceIdentity(t, cli)
	k.deviceID = id.DeviceID(k.pub)
	return k
}

// crossSigningKey is the key's object for device_signing/upload, unsigned.
func (d deviceIdentity) crossSigningKey(usage string) map[string]any {
	return map[string]any{"user_id": d.userID, "usage": []string{usage}, "keys": map[string]string{"ed25519:" + d.pub: d.pub}}
}

package main

import (
	"encoding/base64"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/config"
)

// TestSlidingSync_E2EEFallback: the e2ee extension is sent again when the
// device's fallback key is handed out though its one-time key count stays
// the same (none left), so that the client learns to replace the key.
func TestSlidingSync_E2EEFallback(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		alice := mustRegister(t, srv.URL, "alice", "alice password")
		bob := mustRegister(t, srv.URL, "bob", "bob password")
		dev := newDeviceIdentity(t, bob)
		otk := dev.sign(t, map[string]any{"key": base64.RawStdEncoding.EncodeToString([]byte("one-time"))})
		fallback := dev.sign(t, map[string]any{"key": "fallback", "fallback": true})
		if err := postJSON(t, bob, []any{"v3", "keys", "upload"}, map[string]any{
			"device_keys": dev.deviceKeys(t), "one_time_keys": map[string]any{"signed_curve25519:AAAAAQ": otk},
			"fallback_keys": map[string]any{"signed_curve25519:AAAAFB": fallback},
		}, nil); err != nil {
			t.Fatal(err)
		}
		claim := func() {
			t.Helper()
			if err := postJSON(t, alice, []any{"v3", "keys", "claim"}, map[string]any{
				"one_time_keys": map[string]any{string(bob.UserID): map[string]string{string(bob.DeviceID): "signed_curve25519"}},
			}, nil); err != nil {
				t.Fatal(err)
			}
		}
		body := map[string]any{"lists": map[string]any{}, "extensions": map[string]any{"e2ee": map[string]bool{"enabled": true}}}
		pos := ""
		e2ee := func(t *testing.T) (map[string]any, bool) {
			t.Helper()
			resp, err := slide(t, bob, pos, 0, body)
			if err != nil {
				t.Fatal(err)
			}
			pos = resp.Pos
			ext, ok := resp.Extensions["e2ee"]
			return ext, ok
		}
		unused := func(ext map[string]any) []string {
			var out []string
			list, _ := ext["device_unused_fallback_key_types"].([]any)
			for _, v := range list {
				s, _ := v.(string)
				out = append(out, s)
			}
			return out
		}
		if ext, ok := e2ee(t); !ok || !slices.Equal(unused(ext), []string{"signed_curve25519"}) {
			t.Fatalf("first e2ee extension: got %v, want the unused fallback key type", ext)
		}
		claim() // the one-time key
		if _, ok := e2ee(t); !ok {
			t.Fatal("after the one-time key was claimed: no e2ee extension, want the new count")
		}
		claim() // the fallback key: the count stays 0
		ext, ok := e2ee(t)
		if !ok || len(unused(ext)) != 0 {
			t.Errorf("after the fallback key was claimed: got extension %v (sent %v), want it sent with no unused fallback key type", ext, ok)
		}
		if _, ok := e2ee(t); ok {
			t.Errorf("nothing changed since: got an e2ee extension, want none")
		}
	})
}

package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// TestSlidingSync_E2EEFallback: the e2ee extension is sent again when the
// device's fallback key is handed out though its one-time key count stays
// the same (none left), so that the client learns to replace the key.
func TestSlidingSync_E2EEFallback(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
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

// TestSlidingSync_ToDevice: the to_device extension sends a message until
// the client passes its next_batch back as since, which deletes it.
func TestSlidingSync_ToDevice(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		msg := &mautrix.ReqSendToDevice{Messages: map[id.UserID]map[id.DeviceID]*event.Content{
			bob.UserID: {bob.DeviceID: {Raw: map[string]any{"n": "one"}}},
		}}
		if _, err := alice.SendToDevice(context.Background(), event.NewEventType("org.example.ping"), msg); err != nil {
			t.Fatal(err)
		}
		toDevice := func(t *testing.T, since string) (n int, next string) {
			t.Helper()
			ext := map[string]any{"enabled": true}
			if since != "" {
				ext["since"] = since
			}
			resp, err := slide(t, bob, "", 0, map[string]any{"lists": map[string]any{}, "extensions": map[string]any{"to_device": ext}})
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Extensions["to_device"]
			events, _ := got["events"].([]any)
			next, _ = got["next_batch"].(string)
			if next == "" {
				t.Fatalf("to_device extension: got %v, want a next_batch", got)
			}
			return len(events), next
		}
		n, next := toDevice(t, "")
		if n != 1 {
			t.Fatalf("first: got %d messages, want 1", n)
		}
		if again, _ := toDevice(t, ""); again != 1 {
			t.Errorf("not yet acknowledged: got %d messages, want the message again", again)
		}
		if after, _ := toDevice(t, next); after != 0 {
			t.Errorf("since its next_batch: got %d messages, want none", after)
		}
		if gone, _ := toDevice(t, ""); gone != 0 {
			t.Errorf("from the start after acknowledgement: got %d messages, want none (deleted)", gone)
		}

		// The extension's limit: five messages, two at a time.
		for range 5 {
			if _, err := alice.SendToDevice(context.Background(), event.NewEventType("org.example.ping"), msg); err != nil {
				t.Fatal(err)
			}
		}
		var got []int
		since := next
		for range 4 {
			resp, err := slide(t, bob, "", 0, map[string]any{"lists": map[string]any{}, "extensions": map[string]any{
				"to_device": map[string]any{"enabled": true, "since": since, "limit": 2}}})
			if err != nil {
				t.Fatal(err)
			}
			ext := resp.Extensions["to_device"]
			events, _ := ext["events"].([]any)
			got = append(got, len(events))
			since, _ = ext["next_batch"].(string)
		}
		if fmt.Sprint(got) != "[2 2 1 0]" {
			t.Errorf("messages per response with limit 2: got %v, want [2 2 1 0]", got)
		}
	})
}

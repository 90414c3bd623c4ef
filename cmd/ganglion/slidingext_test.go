package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// TestSlidingSync_Extensions: what Element X asks of sliding sync beyond
// the room list: the unstable feature in /versions, required_state's $ME
// and $LAZY, bump_stamp ordering, and the to_device (acknowledged by its
// since), account_data, receipts and typing extensions.
func TestSlidingSync_Extensions(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob", "carol")
		alice, bob, carol := users[0], users[1], users[2]

		versions, err := alice.Versions(ctx)
		if err != nil || !versions.UnstableFeatures["org.matrix.simplified_msc3575"] {
			t.Errorf("/versions: got unstable features %v (%v), want org.matrix.simplified_msc3575", versions.UnstableFeatures, err)
		}

		older := mustPublicRoom(t, alice, bob, carol)
		newer := mustPublicRoom(t, alice, bob, carol)
		mustText(t, bob, newer, "bob speaks")
		mustText(t, carol, older, "carol speaks")
		mustText(t, bob, newer, "bob again") // newer is the most recent again

		request := func(toDeviceSince string) map[string]any {
			toDevice := map[string]any{"enabled": true}
			if toDeviceSince != "" {
				toDevice["since"] = toDeviceSince
			}
			return map[string]any{
				"lists": map[string]any{"all": map[string]any{
					"ranges": [][2]int{{0, 10}}, "timeline_limit": 1,
					"required_state": [][2]string{{"m.room.member", "$LAZY"}, {"m.room.member", "$ME"}},
				}},
				"extensions": map[string]any{
					"to_device": toDevice, "account_data": map[string]bool{"enabled": true},
					"receipts": map[string]bool{"enabled": true}, "typing": map[string]bool{"enabled": true},
				},
			}
		}
		first, err := slide(t, alice, "", 0, request(""))
		if err != nil {
			t.Fatal(err)
		}
		nr, or := first.Rooms[string(newer)], first.Rooms[string(older)]
		if nr.BumpStamp <= or.BumpStamp {
			t.Errorf("bump_stamp: newer room %d, older %d; want the newer higher", nr.BumpStamp, or.BumpStamp)
		}
		members := func(r slidingRoom) []string {
			var out []string
			for _, ev := range r.RequiredState {
				if ev["type"] == "m.room.member" {
					out = append(out, ev["state_key"].(string))
				}
			}
			slices.Sort(out)
			return out
		}
		if got, want := members(nr), []string{alice.UserID.String(), bob.UserID.String()}; !slices.Equal(got, want) {
			t.Errorf("required_state members of the newer room: got %v, want $ME and the timeline's sender %v", got, want)
		}
		if got, want := members(or), []string{alice.UserID.String(), carol.UserID.String()}; !slices.Equal(got, want) {
			t.Errorf("required_state members of the older room: got %v, want %v", got, want)
		}
		toDeviceSince, _ := first.Extensions["to_device"]["next_batch"].(string)
		if toDeviceSince == "" {
			t.Fatalf("to_device extension: got %v, want a next_batch", first.Extensions["to_device"])
		}

		// Things happen.
		if _, err := bob.SendToDevice(ctx, event.NewEventType("org.example.ping"), &mautrix.ReqSendToDevice{
			Messages: map[id.UserID]map[id.DeviceID]*event.Content{alice.UserID: {alice.DeviceID: {Raw: map[string]any{"n": 1}}}},
		}); err != nil {
			t.Fatal(err)
		}
		if err := alice.SetAccountData(ctx, "org.example.global", map[string]int{"v": 1}); err != nil {
			t.Fatal(err)
		}
		if err := alice.SetRoomAccountData(ctx, newer, "org.example.room", map[string]int{"v": 2}); err != nil {
			t.Fatal(err)
		}
		last, err := alice.Messages(ctx, newer, "", "", mautrix.DirectionBackward, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.SendReceipt(ctx, newer, last.Chunk[0].ID, event.ReceiptTypeRead, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := carol.UserTyping(ctx, older, true, 30000); err != nil {
			t.Fatal(err)
		}

		next, err := slide(t, alice, first.Pos, 0, request(toDeviceSince))
		if err != nil {
			t.Fatal(err)
		}
		ext := func(name string) string {
			data, _ := json.Marshal(next.Extensions[name])
			return string(data)
		}
		td := next.Extensions["to_device"]
		if events, _ := td["events"].([]any); len(events) != 1 {
			t.Errorf("to_device extension: got %s, want bob's message", ext("to_device"))
		}
		var ad struct {
			Global []struct{ Type string } `json:"global"`
			Rooms  map[string][]struct{ Type string }
		}
		_ = json.Unmarshal([]byte(ext("account_data")), &ad)
		if len(ad.Global) != 1 || ad.Global[0].Type != "org.example.global" || len(ad.Rooms[string(newer)]) != 1 {
			t.Errorf("account_data extension: got %s, want the global and the room change", ext("account_data"))
		}
		var receipts struct {
			Rooms map[string]struct {
				Content map[string]map[string]map[string]any `json:"content"`
			} `json:"rooms"`
		}
		_ = json.Unmarshal([]byte(ext("receipts")), &receipts)
		if receipts.Rooms[string(newer)].Content[string(last.Chunk[0].ID)]["m.read"][bob.UserID.String()] == nil {
			t.Errorf("receipts extension: got %s, want bob's receipt in the newer room", ext("receipts"))
		}
		var typing struct {
			Rooms map[string]struct {
				Content struct {
					UserIDs []string `json:"user_ids"`
				} `json:"content"`
			} `json:"rooms"`
		}
		_ = json.Unmarshal([]byte(ext("typing")), &typing)
		if got := typing.Rooms[string(older)].Content.UserIDs; !slices.Equal(got, []string{carol.UserID.String()}) {
			t.Errorf("typing extension: got %s, want carol typing in the older room", ext("typing"))
		}

		// The to_device since acknowledges: the message does not come back.
		nextSince, _ := td["next_batch"].(string)
		again, err := slide(t, alice, next.Pos, 0, request(nextSince))
		if err != nil {
			t.Fatal(err)
		}
		if events, _ := again.Extensions["to_device"]["events"].([]any); len(events) != 0 {
			t.Errorf("to_device after acknowledging: got %v, want nothing", again.Extensions["to_device"])
		}
	})
}

// TestSlidingSync_EphemeralScope: the receipts and typing extensions cover
// the rooms their "lists" and "rooms" name, and a room they start to cover
// comes with what happened there before.
func TestSlidingSync_EphemeralScope(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		rooms := map[string]id.RoomID{}
		lastEvent := map[string]id.EventID{}
		for _, name := range []string{"a", "b", "subscribed"} {
			rooms[name] = mustPublicRoom(t, alice, bob)
		}
		for _, name := range []string{"b", "subscribed", "a"} { // a is the most recent room
			sent, err := bob.SendText(ctx, rooms[name], "hello "+name)
			if err != nil {
				t.Fatal(err)
			}
			lastEvent[name] = sent.EventID
			if err := bob.SendReceipt(ctx, rooms[name], lastEvent[name], event.ReceiptTypeRead, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.UserTyping(ctx, rooms[name], true, 30000); err != nil {
				t.Fatal(err)
			}
		}
		request := map[string]any{
			"lists":              map[string]any{"top": map[string]any{"ranges": [][2]int{{0, 0}}, "timeline_limit": 1}},
			"room_subscriptions": map[string]any{string(rooms["subscribed"]): map[string]any{"timeline_limit": 1}},
			"extensions": map[string]any{
				"receipts": map[string]any{"enabled": true, "lists": []string{"top"}, "rooms": []string{}},
				"typing":   map[string]any{"enabled": true, "lists": []string{}, "rooms": []string{"*"}},
			},
		}
		covered := func(resp *slidingResp, ext string) []string {
			var out []string
			r, _ := resp.Extensions[ext]["rooms"].(map[string]any)
			for name, roomID := range rooms {
				if r[string(roomID)] != nil {
					out = append(out, name)
				}
			}
			slices.Sort(out)
			return out
		}
		first, err := slide(t, alice, "", 0, request)
		if err != nil {
			t.Fatal(err)
		}
		if got := covered(first, "receipts"); !slices.Equal(got, []string{"a"}) {
			t.Errorf("receipts: got rooms %v, want only the top list's a", got)
		}
		if got := covered(first, "typing"); !slices.Equal(got, []string{"subscribed"}) {
			t.Errorf("typing: got rooms %v, want only the subscription", got)
		}

		// b becomes the top room. Covered for the first time, it brings the
		// receipts of its timeline's events and alice's own, not carol's
		// of an older event; a, out of the list's range, is no longer
		// covered.
		carol := mustRegister(t, srv.URL, "carol", "carol password")
		if _, err := carol.JoinRoomByID(ctx, rooms["b"]); err != nil {
			t.Fatal(err)
		}
		for _, u := range []*mautrix.Client{alice, carol} {
			if err := u.SendReceipt(ctx, rooms["b"], lastEvent["b"], event.ReceiptTypeRead, nil); err != nil {
				t.Fatal(err)
			}
		}
		mustText(t, alice, rooms["b"], "b again")
		again, err := alice.SendText(ctx, rooms["b"], "b once more")
		if err != nil {
			t.Fatal(err)
		}
		if err := bob.SendReceipt(ctx, rooms["b"], again.EventID, event.ReceiptTypeRead, nil); err != nil {
			t.Fatal(err)
		}
		// A new receipt in a (now in the main timeline's thread) stays out.
		if err := bob.SendReceipt(ctx, rooms["a"], lastEvent["a"], event.ReceiptTypeRead,
			map[string]any{"thread_id": "main"}); err != nil {
			t.Fatal(err)
		}
		next, err := slide(t, alice, first.Pos, 0, request)
		if err != nil {
			t.Fatal(err)
		}
		if got := covered(next, "receipts"); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("receipts after b moved up: got rooms %v, want b", got)
		}
		b, _ := next.Extensions["receipts"]["rooms"].(map[string]any)[string(rooms["b"])].(map[string]any)
		content, _ := b["content"].(map[string]any)
		readers := func(eventID id.EventID) []string {
			read, _ := content[string(eventID)].(map[string]any)["m.read"].(map[string]any)
			var out []string
			for user := range read {
				out = append(out, user)
			}
			slices.Sort(out)
			return out
		}
		if got := readers(again.EventID); !slices.Equal(got, []string{bob.UserID.String()}) {
			t.Errorf("receipts of b's newest event: got %v, want bob's", got)
		}
		if got := readers(lastEvent["b"]); !slices.Equal(got, []string{alice.UserID.String()}) {
			t.Errorf("receipts of b's older event: got %v, want only alice's own", got)
		}
	})
}

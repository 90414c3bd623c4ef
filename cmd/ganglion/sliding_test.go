package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

type slidingRoom struct {
	Name          *string          `json:"name"`
	Initial       bool             `json:"initial"`
	Timeline      []map[string]any `json:"timeline"`
	RequiredState []map[string]any `json:"required_state"`
	NumLive       int              `json:"num_live"`
	Notifications *int             `json:"notification_count"`
	BumpStamp     int64            `json:"bump_stamp"`
	Membership    string           `json:"membership"`
	JoinedCount   *int             `json:"joined_count"`
	StrippedState []map[string]any `json:"stripped_state"`
}

type slidingResp struct {
	Pos        string                         `json:"pos"`
	Lists      map[string]struct{ Count int } `json:"lists"`
	Rooms      map[string]slidingRoom         `json:"rooms"`
	Extensions map[string]map[string]any      `json:"extensions"`
}

func slide(t *testing.T, cli *mautrix.Client, pos string, timeout int, body map[string]any) (*slidingResp, error) {
	t.Helper()
	q := map[string]string{}
	if pos != "" {
		q["pos"] = pos
	}
	if timeout > 0 {
		q["timeout"] = fmt.Sprint(timeout)
	}
	url := cli.BuildURLWithQuery(mautrix.ClientURLPath{"unstable", "org.matrix.simplified_msc3575", "sync"}, q)
	var resp slidingResp
	_, err := cli.MakeRequest(context.Background(), "POST", url, body, &resp)
	return &resp, err
}

// TestSlidingSync drives simplified sliding sync as Element X does: a
// growing room list sorted by activity, lazy members, a long-poll woken by
// a message, an invite, the e2ee extension, and both request shapes.
func TestSlidingSync(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		var rooms []id.RoomID
		for i, name := range []string{"Quotes", "Invoices", "Site visits"} {
			r, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: name, Preset: "private_chat"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := alice.SendText(ctx, r.RoomID, fmt.Sprintf("message %d", i)); err != nil {
				t.Fatal(err)
			}
			rooms = append(rooms, r.RoomID)
		}
		list := func(to int) map[string]any {
			return map[string]any{"lists": map[string]any{"all": map[string]any{
				"ranges": [][2]int{{0, to}}, "timeline_limit": 1,
				"required_state": [][2]string{{"m.room.name", ""}, {"m.room.member", "$LAZY"}},
			}}, "extensions": map[string]any{"e2ee": map[string]bool{"enabled": true}}}
		}
		first, err := slide(t, alice, "", 0, list(1))
		if err != nil {
			t.Fatalf("first sliding sync: %v", err)
		}
		if first.Lists["all"].Count != 3 || len(first.Rooms) != 2 {
			t.Fatalf("first page: count %d, %d rooms; want 3 and the 2 most recent", first.Lists["all"].Count, len(first.Rooms))
		}
		newest := first.Rooms[string(rooms[2])]
		if !newest.Initial || newest.Name == nil || *newest.Name != "Site visits" || len(newest.Timeline) != 1 {
			t.Errorf("newest room: got %+v, want initial with name and one event", newest)
		}
		if _, ok := first.Extensions["e2ee"]["device_one_time_keys_count"]; !ok {
			t.Errorf("e2ee extension: got %v, want key counts", first.Extensions["e2ee"])
		}

		more, err := slide(t, alice, first.Pos, 0, list(2))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := more.Rooms[string(rooms[0])]; len(more.Rooms) != 1 || !ok {
			t.Errorf("growing the range: got rooms %v, want only the oldest room", keysOf(more.Rooms))
		}

		// Opening a room: a subscription asking for more state than the
		// list sends that state although nothing happened in the room.
		sub := list(2)
		sub["room_subscriptions"] = map[string]any{string(rooms[1]): map[string]any{
			"timeline_limit": 1, "required_state": [][2]string{{"m.room.create", ""}, {"m.room.power_levels", ""}},
		}}
		opened, err := slide(t, alice, more.Pos, 0, sub)
		if err != nil {
			t.Fatal(err)
		}
		var types []any
		for _, ev := range opened.Rooms[string(rooms[1])].RequiredState {
			types = append(types, ev["type"])
		}
		if !slices.Contains(types, any("m.room.create")) || !slices.Contains(types, any("m.room.power_levels")) {
			t.Errorf("subscribed room's state: got types %v, want create and power levels", types)
		}
		more = opened

		// A long-poll with a huge timeout (clamped, not overflowed into
		// none) waits and is woken by a new message.
		done := make(chan *slidingResp, 1)
		go func() {
			r, err := slide(t, alice, more.Pos, math.MaxInt64, list(2))
			if err != nil {
				t.Error(err)
			}
			done <- r
		}()
		waitForWaiter(t, srv, alice.UserID)
		start := time.Now()
		if _, err := alice.SendText(ctx, rooms[0], "new quote"); err != nil {
			t.Fatal(err)
		}
		woken := <-done
		if time.Since(start) > 10*time.Second {
			t.Error("long-poll was not woken by the message")
		}
		got := woken.Rooms[string(rooms[0])]
		if got.Initial || got.NumLive != 1 || len(got.Timeline) != 1 || got.Timeline[0]["content"].(map[string]any)["body"] != "new quote" {
			t.Errorf("woken sliding sync: got %+v, want the new message as live, not initial", got)
		}

		// An invite shows up with stripped state, in the newer request shape.
		if _, err := alice.InviteUser(ctx, rooms[1], &mautrix.ReqInviteUser{UserID: bob.UserID}); err != nil {
			t.Fatal(err)
		}
		bobResp, err := slide(t, bob, "", 0, map[string]any{"lists": map[string]any{"all": map[string]any{
			"range": []int{0, 10}, "timeline_limit": 5, "required_state": map[string]any{"include": []any{map[string]any{}}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		inv := bobResp.Rooms[string(rooms[1])]
		if inv.Membership != "invite" || len(inv.StrippedState) == 0 || len(inv.Timeline) != 0 {
			t.Errorf("bob's invite: got %+v, want membership invite with stripped state only", inv)
		}

		// After joining, a message from alice counts as unread for bob.
		if _, err := bob.JoinRoomByID(ctx, rooms[1]); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendText(ctx, rooms[1], "welcome, bob"); err != nil {
			t.Fatal(err)
		}
		counted, err := slide(t, bob, bobResp.Pos, 0, list(5))
		if err != nil {
			t.Fatal(err)
		}
		if n := counted.Rooms[string(rooms[1])].Notifications; n == nil || *n < 1 {
			t.Errorf("bob's unread count after alice's message: got %v, want at least 1", n)
		}

		_, err = slide(t, alice, "99_s1_1_1_1_1_1", 0, list(1))
		var httpErr mautrix.HTTPError
		if !errors.As(err, &httpErr) || httpErr.RespError == nil || httpErr.RespError.ErrCode != "M_UNKNOWN_POS" {
			t.Errorf("unknown pos: got %v, want M_UNKNOWN_POS", err)
		}
		if _, err := slide(t, bob, woken.Pos, 0, list(1)); err == nil {
			t.Error("bob using alice's pos: got nil error, want M_UNKNOWN_POS")
		}
	})
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

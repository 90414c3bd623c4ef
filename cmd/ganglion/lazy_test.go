package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// stateMembers returns the users whose m.room.member events a joined
// room's state section carries, sorted, by their local parts.
func stateMembers(t *testing.T, resp *mautrix.RespSync, roomID id.RoomID) []string {
	t.Helper()
	jr, ok := resp.Rooms.Join[roomID]
	if !ok {
		t.Fatalf("room %s missing from rooms.join", roomID)
	}
	var out []string
	for _, ev := range jr.State.Events {
		if ev.Type == event.StateMember {
			local, _, _ := strings.Cut(strings.TrimPrefix(ev.GetStateKey(), "@"), ":")
			out = append(out, local)
		}
	}
	slices.Sort(out)
	return out
}

func mustText(t *testing.T, cli *mautrix.Client, roomID id.RoomID, body string) {
	t.Helper()
	if _, err := cli.SendText(context.Background(), roomID, body); err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
}

// TestSync_LazyMembers drives a lazy-loading /sync through a room where
// senders repeat, a new sender speaks, a response is lost and retried,
// and a member who was sent before changes while not speaking: with
// include_redundant_members false a member event the device already has
// is not sent again, with true it is, and in both a new sender's or a
// changed member's event is.
func TestSync_LazyMembers(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob", "carol", "dave")
		alice, bob, carol, dave := users[0], users[1], users[2], users[3]
		// Four more members join between carol and dave, so that the
		// room's heroes (the first five other members, whose member events
		// lazy loading sends with the summary) leave dave out.
		joiners := append([]*mautrix.Client{bob, carol}, mustRegisterAll(t, srv.URL, "erin", "frank", "grace", "heidi")...)
		room := mustPublicRoom(t, alice, append(joiners, dave)...)
		mustText(t, carol, room, "c1")

		for _, redundant := range []bool{false, true} {
			t.Run(fmt.Sprintf("include_redundant_members=%v", redundant), func(t *testing.T) {
				filter := fmt.Sprintf(`{"room":{"state":{"lazy_load_members":true,"include_redundant_members":%v},`+
					`"timeline":{"limit":1}}}`, redundant)
				// Redundant members are the ones sent only with true.
				again := func(users ...string) []string {
					if !redundant {
						return nil
					}
					return users
				}
				check := func(step string, resp *mautrix.RespSync, want []string) {
					t.Helper()
					if got := stateMembers(t, resp, room); !slices.Equal(got, want) {
						t.Errorf("%s: got members %v in state, want %v", step, got, want)
					}
				}
				first := mustSync(t, bob, "", 0, filter)
				check("initial sync", first, []string{"alice", "bob", "carol", "erin", "frank", "grace"})

				mustText(t, carol, room, "from carol")
				repeat := mustSync(t, bob, first.NextBatch, 0, filter)
				check("same sender again", repeat, again("carol"))

				mustText(t, dave, room, "from dave")
				newSender := mustSync(t, bob, repeat.NextBatch, 0, filter)
				check("new sender", newSender, []string{"dave"})
				retried := mustSync(t, bob, repeat.NextBatch, 0, filter)
				check("retry of a lost response", retried, []string{"dave"})

				mustText(t, dave, room, "dave again")
				daveAgain := mustSync(t, bob, retried.NextBatch, 0, filter)
				check("sender sent before", daveAgain, again("dave"))

				// Dave changes his name in a gap the limited timeline skips:
				// bob was sent dave's member event, so he gets the new one.
				if _, err := dave.SendStateEvent(ctx, room, event.StateMember, dave.UserID.String(),
					map[string]string{"membership": "join", "displayname": "Dave " + fmt.Sprint(redundant)}); err != nil {
					t.Fatal(err)
				}
				mustText(t, carol, room, "after the gap")
				gap := mustSync(t, bob, daveAgain.NextBatch, 0, filter)
				if jr := gap.Rooms.Join[room]; jr == nil || !jr.Timeline.Limited {
					t.Fatal("sync over the name change: want a limited timeline")
				}
				check("changed member outside the timeline", gap, append(again("carol"), "dave"))
			})
		}
	})
}

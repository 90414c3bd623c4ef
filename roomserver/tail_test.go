package roomserver_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestRoomserver_TimelineFromMemory: the roomserver that wrote a room
// answers timeline reads of its newest events from memory; every answer
// must equal what a roomserver without that memory reads from the
// database, before and after a redaction changes an event in it.
func TestRoomserver_TimelineFromMemory(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		writer, _ := newRoomserver(t, db, "11")
		roomID, err := writer.CreateRoom(ctx, roomserver.CreateRequest{Creator: alice, Preset: roomserver.PresetPublic})
		if err != nil {
			t.Fatal(err)
		}
		mustSend(t, writer, member(roomID, bob, bob, spec.Join))
		var sent []roomserver.Sent
		for i := range 50 {
			sent = append(sent, mustSend(t, writer, message(roomID, bob, fmt.Sprintf("m%d", i))))
		}
		compare := func(when string) {
			t.Helper()
			reader, _ := newRoomserver(t, db, "11") // nothing in memory
			last := sent[len(sent)-1].StreamPos
			for _, q := range []struct {
				after, before int64
				limit         int
				backwards     bool
			}{
				{sent[45].StreamPos, last + 1, 11, true}, // an incremental sync
				{sent[45].StreamPos, last + 1, 2, true},  // a limited one
				{sent[40].StreamPos, 0, 100, false},
				{sent[48].StreamPos, sent[49].StreamPos, 10, true}, // empty
				{sent[5].StreamPos, 0, 100, true},                  // older than memory keeps
				{0, 0, 3, true},
				{0, last + 1, 11, true},          // an initial sync: the newest, from memory though after is 0
				{0, sent[10].StreamPos, 5, true}, // a page older than memory keeps
				{0, 0, 40, true},                 // more than memory keeps
			} {
				got, err := writer.Timeline(ctx, roomID, q.after, q.before, q.limit, q.backwards)
				if err != nil {
					t.Fatal(err)
				}
				want, err := reader.Timeline(ctx, roomID, q.after, q.before, q.limit, q.backwards)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("%s: timeline %+v: got %d events, want %d", when, q, len(got), len(want))
				}
				for i := range got {
					if got[i].EventID() != want[i].EventID() || got[i].StreamPos != want[i].StreamPos ||
						string(got[i].Content()) != string(want[i].Content()) {
						t.Errorf("%s: timeline %+v event %d: got %s at %d %s, want %s at %d %s", when, q, i,
							got[i].EventID(), got[i].StreamPos, got[i].Content(),
							want[i].EventID(), want[i].StreamPos, want[i].Content())
					}
				}
			}
		}
		compare("after 50 messages")
		mustSend(t, writer, roomserver.Proto{RoomID: roomID, Sender: bob, Type: spec.MRoomRedaction,
			Redacts: sent[47].EventID, Content: []byte(`{}`)})
		compare("after a redaction")
		got, err := writer.Timeline(ctx, roomID, sent[46].StreamPos, sent[48].StreamPos, 1, true)
		if err != nil || len(got) != 1 || string(got[0].Content()) != "{}" {
			t.Errorf("redacted event: got %v (%v), want empty content", got, err)
		}
	})
}

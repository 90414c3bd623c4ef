package roomserver_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

const (
	alice = "@alice:test.local"
	bob   = "@bob:test.local"
)

type recorder struct {
	mu   sync.Mutex
	outs []roomserver.Output
}

func (r *recorder) OnOutput(_ context.Context, o roomserver.Output) {
	r.mu.Lock()
	r.outs = append(r.outs, o)
	r.mu.Unlock()
}

func newRoomserver(t *testing.T, db *storage.DB, version string) (*roomserver.Roomserver, *recorder) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetLevel(logrus.PanicLevel)
	rs, err := roomserver.New(roomserver.Config{DefaultRoomVersion: version}, roomserver.Deps{
		DB: db, Log: log, ServerName: "test.local", KeyID: "ed25519:test", Key: key,
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	rs.Subscribe(rec)
	return rs, rec
}

func mustSend(t *testing.T, rs *roomserver.Roomserver, p roomserver.Proto) roomserver.Sent {
	t.Helper()
	sent, err := rs.Send(context.Background(), p)
	if err != nil {
		t.Fatalf("send %s: %v", p.Type, err)
	}
	return sent
}

func message(roomID, sender, body string) roomserver.Proto {
	content, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": body})
	return roomserver.Proto{RoomID: roomID, Sender: sender, Type: "m.room.message", Content: content}
}

func member(roomID, sender, target, membership string) roomserver.Proto {
	content, _ := json.Marshal(map[string]string{"membership": membership})
	return roomserver.Proto{RoomID: roomID, Sender: sender, Type: spec.MRoomMember, StateKey: &target, Content: content}
}

// TestRoomserver_Lifecycle creates a room in every supported version, lets
// a second user join, talk, leave, and checks state, membership, timeline
// order and the subscriber's outputs.
func TestRoomserver_Lifecycle(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, version := range []string{"1", "6", "10", "11", "12"} {
			t.Run("v"+version, func(t *testing.T) {
				ctx := context.Background()
				rs, rec := newRoomserver(t, db, version)
				roomID, err := rs.CreateRoom(ctx, roomserver.CreateRequest{Creator: alice, Preset: roomserver.PresetPublic, Name: ptr("Workshop")})
				if err != nil {
					t.Fatalf("create room: %v", err)
				}
				if got, _ := rs.RoomVersion(ctx, roomID); got != version {
					t.Errorf("room version: got %q, want %q", got, version)
				}
				name, err := rs.StateEvent(ctx, roomID, spec.MRoomName, "")
				if err != nil || !json.Valid(name.Content()) || string(name.Content()) != `{"name":"Workshop"}` {
					t.Errorf("name state: got %v (%v)", name, err)
				}
				mustSend(t, rs, member(roomID, bob, bob, spec.Join))
				first := mustSend(t, rs, message(roomID, bob, "hello"))
				second := mustSend(t, rs, message(roomID, alice, "hi bob"))
				if second.StreamPos <= first.StreamPos {
					t.Errorf("stream positions: got %d then %d, want increasing", first.StreamPos, second.StreamPos)
				}
				joined, err := rs.Members(ctx, roomID, spec.Join)
				if err != nil || len(joined) != 2 {
					t.Fatalf("joined members: got %d (%v), want 2", len(joined), err)
				}
				mustSend(t, rs, member(roomID, bob, bob, spec.Leave))
				if m, _ := rs.Membership(ctx, roomID, bob); m != spec.Leave {
					t.Errorf("bob after leave: got %q, want leave", m)
				}
				if _, err := rs.Send(ctx, message(roomID, bob, "still here?")); !isNotAllowed(err) {
					t.Errorf("send after leave: got %v, want NotAllowedError", err)
				}
				tl, err := rs.Timeline(ctx, roomID, 0, 0, 100, true)
				if err != nil {
					t.Fatal(err)
				}
				if tl[0].Type() != spec.MRoomMember || tl[len(tl)-1].Type() != spec.MRoomCreate {
					t.Errorf("timeline backwards: got %s first and %s last, want the leave and the create",
						tl[0].Type(), tl[len(tl)-1].Type())
				}
				if len(rec.outs) != len(tl) {
					t.Errorf("outputs: got %d, want one per event (%d)", len(rec.outs), len(tl))
				}
				rooms, err := rs.UserRooms(ctx, alice, spec.Join)
				if err != nil || len(rooms) == 0 {
					t.Errorf("alice's rooms: got %v (%v)", rooms, err)
				}
			})
		}
	})
}

// TestRoomserver_Auth checks that the auth rules apply to local events.
func TestRoomserver_Auth(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		rs, _ := newRoomserver(t, db, "10")
		roomID, err := rs.CreateRoom(ctx, roomserver.CreateRequest{Creator: alice, Preset: roomserver.PresetPrivate})
		if err != nil {
			t.Fatal(err)
		}
		t.Run("ErrJoinInviteOnly", func(t *testing.T) {
			if _, err := rs.Send(ctx, member(roomID, bob, bob, spec.Join)); !isNotAllowed(err) {
				t.Fatalf("got %v, want NotAllowedError", err)
			}
		})
		t.Run("ErrNotInRoom", func(t *testing.T) {
			if _, err := rs.Send(ctx, message(roomID, bob, "hi")); !isNotAllowed(err) {
				t.Fatalf("got %v, want NotAllowedError", err)
			}
		})
		t.Run("InviteThenJoin", func(t *testing.T) {
			mustSend(t, rs, member(roomID, alice, bob, spec.Invite))
			mustSend(t, rs, member(roomID, bob, bob, spec.Join))
		})
		t.Run("ErrPowerLevel", func(t *testing.T) {
			name, _ := json.Marshal(map[string]string{"name": "mine now"})
			_, err := rs.Send(ctx, roomserver.Proto{RoomID: roomID, Sender: bob, Type: spec.MRoomName, StateKey: ptr(""), Content: name})
			if !isNotAllowed(err) {
				t.Fatalf("got %v, want NotAllowedError", err)
			}
		})
		t.Run("Redaction", func(t *testing.T) {
			msg := mustSend(t, rs, message(roomID, alice, "secret"))
			_, err := rs.Send(ctx, roomserver.Proto{RoomID: roomID, Sender: bob, Type: spec.MRoomRedaction,
				Redacts: msg.EventID, Content: json.RawMessage(`{"redacts":"` + msg.EventID + `"}`)})
			if !isNotAllowed(err) {
				t.Fatalf("bob redacting alice's message: got %v, want NotAllowedError", err)
			}
			mustSend(t, rs, roomserver.Proto{RoomID: roomID, Sender: alice, Type: spec.MRoomRedaction,
				Redacts: msg.EventID, Content: json.RawMessage(`{"redacts":"` + msg.EventID + `"}`)})
			ev, err := rs.Event(ctx, msg.EventID)
			if err != nil {
				t.Fatal(err)
			}
			if !ev.Redacted() || string(ev.Content()) != "{}" {
				t.Errorf("after redaction: got redacted=%v content %s, want redacted and {}", ev.Redacted(), ev.Content())
			}
		})
		t.Run("RepeatedStateIsNotResent", func(t *testing.T) {
			topic := roomserver.Proto{RoomID: roomID, Sender: alice, Type: spec.MRoomTopic, StateKey: ptr(""),
				Content: json.RawMessage(`{"topic":"same"}`)}
			first := mustSend(t, rs, topic)
			topic.Content = json.RawMessage(`{ "topic": "same" }`)
			if again := mustSend(t, rs, topic); again.EventID != first.EventID {
				t.Errorf("same topic again: got event %s, want the first %s", again.EventID, first.EventID)
			}
			topic.Content = json.RawMessage(`{"topic":"changed"}`)
			if changed := mustSend(t, rs, topic); changed.EventID == first.EventID {
				t.Error("a changed topic gave the old event")
			}
		})
		t.Run("ErrUnknownRoom", func(t *testing.T) {
			if _, err := rs.Send(ctx, message("!nope:test.local", alice, "x")); !errors.Is(err, roomserver.ErrRoomNotFound) {
				t.Fatalf("got %v, want ErrRoomNotFound", err)
			}
		})
	})
}

func isNotAllowed(err error) bool {
	var na *roomserver.NotAllowedError
	return errors.As(err, &na)
}

func ptr[T any](v T) *T { return &v }

// TestRoomserver_ConcurrentSends: sends to one room at once, built into
// shared batches, each keep their own outcome: every allowed one stored
// once in a linear timeline, a retry of a transaction id answered with the
// first send's event, a send the auth rules refuse refused alone.
func TestRoomserver_ConcurrentSends(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		rs, _ := newRoomserver(t, db, "11")
		roomID, err := rs.CreateRoom(ctx, roomserver.CreateRequest{Creator: alice, Preset: roomserver.PresetPublic})
		if err != nil {
			t.Fatal(err)
		}
		mustSend(t, rs, member(roomID, bob, bob, spec.Join))
		const n = 40
		type result struct {
			sent roomserver.Sent
			err  error
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := message(roomID, alice, fmt.Sprintf("message %d", i))
				switch {
				case i%10 == 3: // not a member: refused
					p = message(roomID, "@carol:test.local", "let me in")
				case i%10 == 7: // the same transaction as message i-1... sent at the same time
					p = message(roomID, bob, "retried")
					p.Txn = &roomserver.TxnKey{Localpart: "bob", DeviceID: "PHONE", TxnID: fmt.Sprintf("t%d", i/10)}
				case i%10 == 8:
					p = message(roomID, bob, "retried")
					p.Txn = &roomserver.TxnKey{Localpart: "bob", DeviceID: "PHONE", TxnID: fmt.Sprintf("t%d", i/10)}
				}
				sent, err := rs.Send(ctx, p)
				results[i] = result{sent, err}
			}()
		}
		wg.Wait()
		ids := map[string]bool{}
		for i, res := range results {
			switch {
			case i%10 == 3:
				if !isNotAllowed(res.err) {
					t.Errorf("send %d by a non-member: got %v, want NotAllowedError", i, res.err)
				}
			case res.err != nil:
				t.Errorf("send %d: %v", i, res.err)
			case i%10 == 8:
				if res.sent.EventID != results[i-1].sent.EventID {
					t.Errorf("retried transaction %d: got %s and %s, want one event", i/10, results[i-1].sent.EventID, res.sent.EventID)
				}
			default:
				ids[res.sent.EventID] = true
			}
		}
		tl, err := rs.Timeline(ctx, roomID, 0, 0, 200, true)
		if err != nil {
			t.Fatal(err)
		}
		stored := 0
		for i, ev := range tl {
			if ids[ev.EventID()] {
				stored++
				delete(ids, ev.EventID())
			}
			if i+1 < len(tl) && (len(ev.PrevEventIDs()) != 1 || ev.PrevEventIDs()[0] != tl[i+1].EventID()) {
				t.Fatalf("timeline is not linear at %s", ev.EventID())
			}
		}
		if want := n - n/10*2; stored != want {
			t.Errorf("stored %d of the sends, want %d once each", stored, want)
		}
	})
}

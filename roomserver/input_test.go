package roomserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// graph builds signed events of a room on a remote server by hand, with
// chosen prev events, so that tests can make forks and races.
type graph struct {
	t       *testing.T
	version gmsl.IRoomVersion
	key     ed25519.PrivateKey
	roomID  string
	clock   time.Time
	nonce   string // makes every graph's events distinct
	byName  map[string]gmsl.PDU
	// state after each named event, for choosing auth events.
	stateAfter map[string]map[gmsl.StateKeyTuple]gmsl.PDU
}

const (
	remoteAdmin = "@admin:remote.test"
	remoteAlice = "@alice:remote.test"
	remoteEve   = "@eve:remote.test"
)

func newGraph(t *testing.T, version string) *graph {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &graph{t: t, version: gmsl.MustGetRoomVersion(gmsl.RoomVersion(version)), key: key,
		clock: time.UnixMilli(1_700_000_000_000), byName: map[string]gmsl.PDU{},
		stateAfter: map[string]map[gmsl.StateKeyTuple]gmsl.PDU{}}
	g.nonce = rand.Text()
	if !g.version.DomainlessRoomIDs() {
		g.roomID = "!" + g.nonce + ":remote.test"
	}
	return g
}

// add builds the event name after the prev events (by name) and returns it.
// Its auth events come from the state after the first prev event merged
// with the others.
func (g *graph) add(name, sender, typ string, stateKey *string, content any, prevs ...string) gmsl.PDU {
	g.t.Helper()
	raw, _ := json.Marshal(content)
	state := map[gmsl.StateKeyTuple]gmsl.PDU{}
	proto := gmsl.ProtoEvent{SenderID: sender, RoomID: g.roomID, Type: typ, StateKey: stateKey, Content: raw, Depth: 1}
	prevIDs := []string{}
	for _, p := range prevs {
		prev := g.byName[p]
		prevIDs = append(prevIDs, prev.EventID())
		proto.Depth = max(proto.Depth, prev.Depth()+1)
		for k, v := range g.stateAfter[p] {
			if _, ok := state[k]; !ok {
				state[k] = v
			}
		}
	}
	proto.PrevEvents = prevIDs
	if typ == spec.MRoomCreate && g.version.DomainlessRoomIDs() {
		proto.RoomID = ""
	}
	needed, err := gmsl.StateNeededForProtoEvent(&proto)
	if err != nil {
		g.t.Fatal(err)
	}
	var authPDUs []gmsl.PDU
	for _, tuple := range needed.Tuples() {
		if e, ok := state[tuple]; ok {
			authPDUs = append(authPDUs, e)
		}
	}
	auth, _ := gmsl.NewAuthEvents(authPDUs)
	b := g.version.NewEventBuilderFromProtoEvent(&proto)
	if err := b.AddAuthEvents(auth); err != nil {
		g.t.Fatal(err)
	}
	g.clock = g.clock.Add(time.Second)
	pdu, err := b.Build(g.clock, "remote.test", "ed25519:remote", g.key)
	if err != nil {
		g.t.Fatalf("build %s: %v", name, err)
	}
	if typ == spec.MRoomCreate && g.version.DomainlessRoomIDs() {
		g.roomID = "!" + pdu.EventID()[1:]
	}
	after := map[gmsl.StateKeyTuple]gmsl.PDU{}
	for k, v := range state {
		after[k] = v
	}
	if stateKey != nil {
		after[gmsl.StateKeyTuple{EventType: typ, StateKey: *stateKey}] = pdu
	}
	g.byName[name], g.stateAfter[name] = pdu, after
	return pdu
}

// start builds a public room: create, the admin's join, power levels
// (admin 100), join rules, and alice's join.
func (g *graph) start() {
	g.add("create", remoteAdmin, spec.MRoomCreate, ptr(""),
		map[string]any{"creator": remoteAdmin, "room_version": string(g.version.Version()), "nonce": g.nonce})
	g.add("admin", remoteAdmin, spec.MRoomMember, ptr(remoteAdmin), map[string]any{"membership": "join"}, "create")
	users := map[string]int{remoteAdmin: 100}
	if g.version.PrivilegedCreators() {
		users = map[string]int{} // creators have unlimited power and are not listed
	}
	g.add("pl", remoteAdmin, spec.MRoomPowerLevels, ptr(""), map[string]any{"users": users}, "admin")
	g.add("rules", remoteAdmin, spec.MRoomJoinRules, ptr(""), map[string]any{"join_rule": "public"}, "pl")
	g.add("alice", remoteAlice, spec.MRoomMember, ptr(remoteAlice), map[string]any{"membership": "join"}, "rules")
}

func (g *graph) pdus(names ...string) []gmsl.PDU {
	out := make([]gmsl.PDU, len(names))
	for i, n := range names {
		out[i] = g.byName[n]
	}
	return out
}

func mustInput(t *testing.T, rs *roomserver.Roomserver, roomID string, pdus []gmsl.PDU) []roomserver.InputResult {
	t.Helper()
	res, err := rs.Input(context.Background(), roomID, pdus)
	if err != nil {
		t.Fatalf("input: %v", err)
	}
	return res
}

func statuses(res []roomserver.InputResult) []storage.EventStatus {
	out := make([]storage.EventStatus, len(res))
	for i, r := range res {
		out[i] = r.Status
	}
	return out
}

func TestInput_Chain(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, version := range []string{"1", "10", "11", "12"} {
			t.Run("v"+version, func(t *testing.T) {
				ctx := context.Background()
				rs, rec := newRoomserver(t, db, "10")
				g := newGraph(t, version)
				g.start()
				g.add("hello", remoteAlice, "m.room.message", nil, map[string]any{"body": "hi"}, "alice")
				res := mustInput(t, rs, g.roomID, g.pdus("create", "admin", "pl", "rules", "alice", "hello"))
				for i, s := range statuses(res) {
					if s != storage.StatusAccepted {
						t.Fatalf("event %d: got status %d (%s), want accepted", i, s, res[i].Reason)
					}
				}
				if m, _ := rs.Membership(ctx, g.roomID, remoteAlice); m != spec.Join {
					t.Errorf("alice: got %q, want join", m)
				}
				if len(rec.outs) != 6 {
					t.Errorf("outputs: got %d, want 6", len(rec.outs))
				}
				again := mustInput(t, rs, g.roomID, g.pdus("hello"))
				if again[0].Status != storage.StatusAccepted || len(rec.outs) != 6 {
					t.Errorf("input twice: got status %d and %d outputs, want accepted and no new output", again[0].Status, len(rec.outs))
				}
			})
		}
	})
}

// TestInput_Rejected: an event its auth events do not allow is stored as
// rejected and never served.
func TestInput_Rejected(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		rs, _ := newRoomserver(t, db, "10")
		g := newGraph(t, "10")
		g.start()
		g.add("eve", remoteEve, "m.room.message", nil, map[string]any{"body": "let me in"}, "alice")
		g.add("topic", remoteAlice, spec.MRoomTopic, ptr(""), map[string]any{"topic": "alice cannot"}, "alice")
		res := mustInput(t, rs, g.roomID, g.pdus("create", "admin", "pl", "rules", "alice", "eve", "topic"))
		if got := statuses(res)[5:]; got[0] != storage.StatusRejected || got[1] != storage.StatusRejected {
			t.Fatalf("got statuses %v, want both rejected", got)
		}
		tl, err := rs.Timeline(ctx, g.roomID, 0, 0, 100, false)
		if err != nil || len(tl) != 5 {
			t.Errorf("timeline: got %d events (%v), want the 5 accepted", len(tl), err)
		}
		if _, err := rs.StateEvent(ctx, g.roomID, spec.MRoomTopic, ""); !errors.Is(err, roomserver.ErrEventNotFound) {
			t.Errorf("topic: got %v, want none", err)
		}
		t.Run("MissingPrev", func(t *testing.T) {
			g.add("unseen", remoteAlice, "m.room.message", nil, map[string]any{"body": "lost"}, "alice")
			g.add("child", remoteAlice, "m.room.message", nil, map[string]any{"body": "after"}, "unseen")
			_, err := rs.Input(ctx, g.roomID, g.pdus("child"))
			var missing *roomserver.MissingEventsError
			if !errors.As(err, &missing) {
				t.Fatalf("got %v, want MissingEventsError", err)
			}
		})
	})
}

// TestInput_BanRace: alice speaks on a branch that does not know she was
// banned on another. Her message passes the state before it but not the
// current state: it is soft-failed, stored but not in the timeline.
func TestInput_BanRace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		rs, _ := newRoomserver(t, db, "10")
		g := newGraph(t, "10")
		g.start()
		g.add("ban", remoteAdmin, spec.MRoomMember, ptr(remoteAlice), map[string]any{"membership": "ban"}, "alice")
		g.add("late", remoteAlice, "m.room.message", nil, map[string]any{"body": "still here"}, "alice")
		res := mustInput(t, rs, g.roomID, g.pdus("create", "admin", "pl", "rules", "alice", "ban", "late"))
		if s := res[6].Status; s != storage.StatusSoftFailed {
			t.Fatalf("alice's message after the ban: got status %d, want soft-failed", s)
		}
		if m, _ := rs.Membership(ctx, g.roomID, remoteAlice); m != spec.Ban {
			t.Errorf("alice: got %q, want ban", m)
		}
		tl, _ := rs.Timeline(ctx, g.roomID, 0, 0, 100, true)
		if tl[0].EventID() != g.byName["ban"].EventID() {
			t.Errorf("newest timeline event: got %s, want the ban", tl[0].Type())
		}
	})
}

// TestInput_Fork: two topic changes on concurrent branches, then an event
// after both. The result follows state resolution and does not depend on
// the order the server received the branches in. It covers state
// resolution v1 (version 1, gomatrixserverlib), v2 (versions 2 to 11) and
// v2.1 (version 12, whose create event is in no auth_events).
func TestInput_Fork(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, version := range []string{"1", "2", "10", "11", "12"} {
			t.Run("v"+version, func(t *testing.T) {
				ctx := context.Background()
				g := newGraph(t, version)
				g.start()
				g.add("topicA", remoteAdmin, spec.MRoomTopic, ptr(""), map[string]any{"topic": "A"}, "alice")
				g.add("topicB", remoteAdmin, spec.MRoomTopic, ptr(""), map[string]any{"topic": "B"}, "alice")
				g.add("merge", remoteAlice, "m.room.message", nil, map[string]any{"body": "both"}, "topicA", "topicB")
				base := []string{"create", "admin", "pl", "rules", "alice"}
				var topics []string
				for _, order := range [][]string{{"topicA", "topicB", "merge"}, {"topicB", "topicA", "merge"}} {
					rs, _ := newRoomserver(t, storagetest.Open(t, storagetest.URL(t, db.Dialect())), "10")
					res := mustInput(t, rs, g.roomID, g.pdus(append(base, order...)...))
					for i, s := range statuses(res) {
						if s != storage.StatusAccepted {
							t.Fatalf("order %v event %d: got status %d (%s)", order, i, s, res[i].Reason)
						}
					}
					topic, err := rs.StateEvent(ctx, g.roomID, spec.MRoomTopic, "")
					if err != nil {
						t.Fatal(err)
					}
					topics = append(topics, string(topic.Content()))
					state, err := rs.StateAt(ctx, g.byName["merge"].EventID())
					if err != nil {
						t.Fatal(err)
					}
					for _, ev := range state {
						if ev.Type() == spec.MRoomTopic && string(ev.Content()) != topics[len(topics)-1] {
							t.Errorf("state at merge: topic %s, current %s; want equal", ev.Content(), topics[len(topics)-1])
						}
					}
				}
				if topics[0] != topics[1] {
					t.Errorf("resolved topic depends on arrival order: %s vs %s", topics[0], topics[1])
				}
				// From v2 on, the topics share their mainline position and
				// the later origin_server_ts wins.
				if want := `{"topic":"B"}`; version != "1" && topics[0] != want {
					t.Errorf("resolved topic: got %s, want %s", topics[0], want)
				}
			})
		}
	})
}

package roomserver_test

import (
	"maps"
	"testing"
	"time"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/roomserver"
)

const remoteMod = "@mod:remote.test"

var (
	plKey    = gmsl.StateKeyTuple{EventType: spec.MRoomPowerLevels}
	topicKey = gmsl.StateKeyTuple{EventType: spec.MRoomTopic}
)

func memberKey(user string) gmsl.StateKeyTuple {
	return gmsl.StateKeyTuple{EventType: spec.MRoomMember, StateKey: user}
}

// levels is power levels content with the users' levels; the admin has
// 100, except in versions where the creator's power is unlimited and may
// not be listed.
func (g *graph) levels(users map[string]int) map[string]any {
	u := maps.Clone(users)
	if !g.version.PrivilegedCreators() {
		u[remoteAdmin] = 100
	}
	return map[string]any{"users": u}
}

func (g *graph) join(name, user string, prev string) {
	g.t.Helper()
	g.add(name, user, spec.MRoomMember, ptr(user), map[string]any{"membership": "join"}, prev)
}

func (g *graph) topic(name, sender, topic string, prev string) {
	g.t.Helper()
	g.add(name, sender, spec.MRoomTopic, ptr(""), map[string]any{"topic": topic}, prev)
}

// stateWith returns the state after the named event, with the replace
// events in place of the entries of their keys.
func (g *graph) stateWith(name string, replace ...string) []gmsl.PDU {
	state := maps.Clone(g.stateAfter[name])
	for _, r := range replace {
		e := g.byName[r]
		state[gmsl.StateKeyTuple{EventType: e.Type(), StateKey: *e.StateKey()}] = e
	}
	return slicesOf(state)
}

func slicesOf(state map[gmsl.StateKeyTuple]gmsl.PDU) []gmsl.PDU {
	out := make([]gmsl.PDU, 0, len(state))
	for _, e := range state {
		out = append(out, e)
	}
	return out
}

func (g *graph) all() []gmsl.PDU {
	out := make([]gmsl.PDU, 0, len(g.byName))
	for _, e := range g.byName {
		out = append(out, e)
	}
	return out
}

func (g *graph) nameOf(id string) string {
	for name, e := range g.byName {
		if e.EventID() == id {
			return name
		}
	}
	if id == "" {
		return "nothing"
	}
	return id
}

// mustResolve resolves the states in memory, in the order given and
// reversed, and fails unless both give the same state.
func mustResolve(t *testing.T, g *graph, sets ...[]gmsl.PDU) map[gmsl.StateKeyTuple]string {
	t.Helper()
	got := roomserver.ResolveStates(g.version, sets, g.all())
	reversed := make([][]gmsl.PDU, len(sets))
	for i, set := range sets {
		reversed[len(sets)-1-i] = set
	}
	if again := roomserver.ResolveStates(g.version, reversed, g.all()); !maps.Equal(got, again) {
		t.Errorf("resolution depends on the order of the states:\n%v\nvs\n%v", got, again)
	}
	return got
}

// wantEntries checks the resolved entries against event names ("" for no
// entry).
func wantEntries(t *testing.T, g *graph, got map[gmsl.StateKeyTuple]string, want map[gmsl.StateKeyTuple]string) {
	t.Helper()
	for key, name := range want {
		wantID := ""
		if name != "" {
			wantID = g.byName[name].EventID()
		}
		if got[key] != wantID {
			t.Errorf("%s %q: got %s, want %s", key.EventType, key.StateKey, g.nameOf(got[key]), g.nameOf(wantID))
		}
	}
}

func eachVersion(t *testing.T, versions []string, fn func(t *testing.T, g *graph)) {
	for _, v := range versions {
		t.Run("v"+v, func(t *testing.T) {
			g := newGraph(t, v)
			g.start()
			fn(t, g)
		})
	}
}

// TestResolveStates_BanRace: the admin bans alice and eve on one branch;
// on the other, later, eve joins and alice changes her display name. The
// bans are power events, applied first, and the joins then fail.
func TestResolveStates_BanRace(t *testing.T) {
	eachVersion(t, []string{"10", "11", "12"}, func(t *testing.T, g *graph) {
		g.add("ban-alice", remoteAdmin, spec.MRoomMember, ptr(remoteAlice), map[string]any{"membership": "ban"}, "alice")
		g.add("ban-eve", remoteAdmin, spec.MRoomMember, ptr(remoteEve), map[string]any{"membership": "ban"}, "ban-alice")
		g.join("eve", remoteEve, "alice")
		g.add("alice-name", remoteAlice, spec.MRoomMember, ptr(remoteAlice),
			map[string]any{"membership": "join", "displayname": "Alice"}, "eve")
		got := mustResolve(t, g, g.stateWith("ban-eve"), g.stateWith("alice-name"))
		wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{
			memberKey(remoteAlice): "ban-alice", memberKey(remoteEve): "ban-eve",
			memberKey(remoteAdmin): "admin", plKey: "pl",
		})
	})
}

// TestResolveStates_PowerEventAncestors: on one branch the moderator joins
// and kicks eve. Eve's and the moderator's joins are in the kick's auth
// chain and conflicted, so they are ordered with the power events, before
// the kick; left for the mainline step, eve's join would come after the
// kick and undo it.
func TestResolveStates_PowerEventAncestors(t *testing.T) {
	eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
		g.add("pl-mod", remoteAdmin, spec.MRoomPowerLevels, ptr(""), g.levels(map[string]int{remoteMod: 50}), "alice")
		g.join("eve", remoteEve, "pl-mod")
		g.join("mod", remoteMod, "eve")
		g.add("kick", remoteMod, spec.MRoomMember, ptr(remoteEve), map[string]any{"membership": "leave"}, "mod")
		got := mustResolve(t, g, g.stateWith("kick"), g.stateWith("eve"))
		wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{memberKey(remoteEve): "kick", memberKey(remoteMod): "mod"})
	})
}

// TestResolveStates_PowerLevels: two power levels changes on concurrent
// branches. Both are allowed, so the one ordered last wins: the lower
// sender power level, else the later origin_server_ts, else the greater
// event id.
func TestResolveStates_PowerLevels(t *testing.T) {
	setup := func(g *graph) {
		g.join("mod", remoteMod, "alice")
		g.add("pl-mod", remoteAdmin, spec.MRoomPowerLevels, ptr(""), g.levels(map[string]int{remoteMod: 50}), "mod")
	}
	t.Run("ByPower", func(t *testing.T) {
		eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
			setup(g)
			// The moderator's change is older, and still ordered after
			// the admin's.
			g.add("by-mod", remoteMod, spec.MRoomPowerLevels, ptr(""),
				g.levels(map[string]int{remoteMod: 50, remoteAlice: 10}), "pl-mod")
			g.add("by-admin", remoteAdmin, spec.MRoomPowerLevels, ptr(""),
				g.levels(map[string]int{remoteMod: 50, remoteEve: 20}), "pl-mod")
			got := mustResolve(t, g, g.stateWith("by-mod"), g.stateWith("by-admin"))
			wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{plKey: "by-mod"})
		})
	})
	t.Run("Topological", func(t *testing.T) {
		eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
			setup(g)
			// The admin's change is built on the moderator's: it comes
			// after it although its sender has more power.
			g.add("by-mod", remoteMod, spec.MRoomPowerLevels, ptr(""),
				g.levels(map[string]int{remoteMod: 50, remoteAlice: 10}), "pl-mod")
			g.add("by-admin", remoteAdmin, spec.MRoomPowerLevels, ptr(""),
				g.levels(map[string]int{remoteMod: 50, remoteAlice: 10, remoteEve: 20}), "by-mod")
			got := mustResolve(t, g, g.stateWith("by-admin"), g.stateWith("pl-mod"))
			wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{plKey: "by-admin"})
		})
	})
	t.Run("ByTimestamp", func(t *testing.T) {
		eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
			setup(g)
			g.add("early", remoteAdmin, spec.MRoomPowerLevels, ptr(""),
				g.levels(map[string]int{remoteMod: 50, remoteEve: 20}), "pl-mod")
			// The later change gets the smaller event id, so that the
			// event id would order the other way.
			for i := 0; i == 0 || g.byName["late"].EventID() > g.byName["early"].EventID(); i++ {
				content := g.levels(map[string]int{remoteMod: 50, remoteAlice: 10})
				content["attempt"] = i
				g.add("late", remoteAdmin, spec.MRoomPowerLevels, ptr(""), content, "pl-mod")
			}
			got := mustResolve(t, g, g.stateWith("late"), g.stateWith("early"))
			wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{plKey: "late"})
		})
	})
	t.Run("ByEventID", func(t *testing.T) {
		eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
			setup(g)
			g.add("one", remoteAdmin, spec.MRoomPowerLevels, ptr(""),
				g.levels(map[string]int{remoteMod: 50, remoteEve: 20}), "pl-mod")
			g.clock = g.clock.Add(-time.Second) // the same origin_server_ts as "one"
			g.add("two", remoteAdmin, spec.MRoomPowerLevels, ptr(""),
				g.levels(map[string]int{remoteMod: 50, remoteAlice: 10}), "pl-mod")
			if g.byName["one"].OriginServerTS() != g.byName["two"].OriginServerTS() {
				t.Fatal("the two changes need the same origin_server_ts")
			}
			want := "one"
			if g.byName["two"].EventID() > g.byName["one"].EventID() {
				want = "two"
			}
			got := mustResolve(t, g, g.stateWith("one"), g.stateWith("two"))
			wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{plKey: want})
		})
	})
}

// TestResolveStates_Mainline: on one branch the admin changes the power
// levels and then the topic; on the other, later, the admin changes the
// topic under the old power levels. The topic based on the earlier
// mainline event is ordered first, so the newer mainline's topic wins
// despite its older origin_server_ts.
func TestResolveStates_Mainline(t *testing.T) {
	eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
		g.add("pl2", remoteAdmin, spec.MRoomPowerLevels, ptr(""), g.levels(map[string]int{remoteAlice: 10}), "alice")
		g.topic("topic-new", remoteAdmin, "new mainline", "pl2")
		g.topic("topic-old", remoteAdmin, "old mainline", "alice")
		got := mustResolve(t, g, g.stateWith("topic-new"), g.stateWith("topic-old"))
		wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{plKey: "pl2", topicKey: "topic-new"})
	})
}

// TestResolveStates_AuthDifference: events in the auth chains of only
// some states take part in the resolution, and events that an
// unconflicted event cites do not.
func TestResolveStates_AuthDifference(t *testing.T) {
	// On one branch eve, invited and given power, joins, sets the topic and
	// leaves. The other branch's state has her invite and the admin's
	// topic. Her join is only in the auth difference (and, in v2.1, in the
	// conflicted state subgraph too); without it her topic would be checked
	// against her invite and fail.
	t.Run("OneBranch", func(t *testing.T) {
		eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
			eveBranch(g)
			got := mustResolve(t, g, g.stateWith("eve-leave"), g.stateWith("topic0"))
			wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{topicKey: "eve-topic", memberKey(remoteEve): "eve-leave"})
		})
	})
	// The power levels pl2 are in one topic's auth chain only, but an
	// unconflicted custom state event cites them: they are in every
	// state's full auth chain, so in no auth difference. In v2.1 the
	// partially resolved state then has no power levels, every mainline
	// position is the same, and the later topic wins; had pl2 been in the
	// auth difference, the topic on its mainline would win. In v2 the
	// unconflicted pl2 is the mainline either way.
	t.Run("CitedByUnconflicted", func(t *testing.T) {
		want := map[string]string{"10": "topic-new", "12": "topic-old"}
		eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
			sharedCiter(g)
			got := mustResolve(t, g, g.stateWith("topic-new"), g.stateWith("custom", "topic-old"))
			wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{
				plKey: "pl2", topicKey: want[string(g.version.Version())],
			})
		})
	})
}

// eveBranch builds eve's branch: invited and given power, she joins, sets
// the topic (eve-topic) and leaves (eve-leave); the admin's topic0 is
// from before her join.
func eveBranch(g *graph) {
	g.add("pl-eve", remoteAdmin, spec.MRoomPowerLevels, ptr(""), g.levels(map[string]int{remoteEve: 50}), "alice")
	g.add("invite", remoteAdmin, spec.MRoomMember, ptr(remoteEve), map[string]any{"membership": "invite"}, "pl-eve")
	g.topic("topic0", remoteAdmin, "admin's", "invite")
	g.join("eve-join", remoteEve, "topic0")
	g.topic("eve-topic", remoteEve, "eve's", "eve-join")
	g.add("eve-leave", remoteEve, spec.MRoomMember, ptr(remoteEve), map[string]any{"membership": "leave"}, "eve-topic")
}

// sharedCiter builds the power levels pl2, a custom state event citing
// them, a topic under them, and, later, a topic under the room's first
// power levels.
func sharedCiter(g *graph) {
	g.add("pl2", remoteAdmin, spec.MRoomPowerLevels, ptr(""), g.levels(map[string]int{remoteAlice: 10}), "alice")
	g.add("custom", remoteAdmin, "org.example.custom", ptr(""), map[string]any{"x": 1}, "pl2")
	g.topic("topic-new", remoteAdmin, "under pl2", "custom")
	g.topic("topic-old", remoteAdmin, "under pl", "alice")
}

// TestResolveStates_EmptyStart: the moderator bans eve under the power
// levels of the ban's auth events; both states have the later power levels
// that demote the moderator. v2 checks the ban against them (the
// unconflicted state) and drops it; v2.1 starts from the empty state,
// checks the ban against its own auth events, and keeps it.
func TestResolveStates_EmptyStart(t *testing.T) {
	want := map[string]string{"10": "eve", "11": "eve", "12": "ban"}
	eachVersion(t, []string{"10", "11", "12"}, func(t *testing.T, g *graph) {
		g.join("mod", remoteMod, "alice")
		g.add("pl-mod", remoteAdmin, spec.MRoomPowerLevels, ptr(""), g.levels(map[string]int{remoteMod: 50}), "mod")
		g.join("eve", remoteEve, "pl-mod")
		g.add("ban", remoteMod, spec.MRoomMember, ptr(remoteEve), map[string]any{"membership": "ban"}, "eve")
		g.add("demote", remoteAdmin, spec.MRoomPowerLevels, ptr(""), g.levels(map[string]int{}), "eve")
		got := mustResolve(t, g, g.stateWith("ban", "demote"), g.stateWith("demote"))
		wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{
			memberKey(remoteEve): want[string(g.version.Version())], plKey: "demote",
		})
		if g.version.Version() != "12" {
			return
		}
		// A rejected auth event is never used: without the moderator's
		// promotion, the ban fails.
		got = roomserver.ResolveStates(g.version, [][]gmsl.PDU{g.stateWith("ban", "demote"), g.stateWith("demote")},
			g.all(), g.byName["pl-mod"].EventID())
		wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{memberKey(remoteEve): "eve"})
	})
}

// TestResolveStates_ConflictedSubgraph: one state has the room's first
// power levels (with a later topic), the other the moderator's change made
// under the admin's promotion of the moderator, which is in both auth
// chains and so in no auth difference. v2 checks the moderator's change
// against the first power levels and drops it; v2.1 takes the promotion,
// on the auth path between the two conflicted events, into the full
// conflicted set and keeps the change.
func TestResolveStates_ConflictedSubgraph(t *testing.T) {
	want := map[string]string{"10": "pl", "11": "pl", "12": "by-mod"}
	eachVersion(t, []string{"10", "11", "12"}, func(t *testing.T, g *graph) {
		g.join("mod", remoteMod, "alice")
		g.add("pl-mod", remoteAdmin, spec.MRoomPowerLevels, ptr(""), g.levels(map[string]int{remoteMod: 50}), "mod")
		g.topic("topic", remoteAdmin, "under pl-mod", "pl-mod")
		g.add("by-mod", remoteMod, spec.MRoomPowerLevels, ptr(""),
			g.levels(map[string]int{remoteMod: 50, remoteAlice: 10}), "topic")
		got := mustResolve(t, g, g.stateWith("topic", "pl"), g.stateWith("by-mod"))
		wantEntries(t, g, got, map[gmsl.StateKeyTuple]string{
			plKey: want[string(g.version.Version())], topicKey: "topic",
		})
	})
}

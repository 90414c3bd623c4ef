package push

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

const (
	alice  = "@alice:test.local"
	bob    = "@bob:test.local"
	admin  = "@admin:test.local"
	roomID = "!room:test.local"
)

func mustEvent(t *testing.T, sender, typ string, stateKey *string, content map[string]any) *Event {
	t.Helper()
	raw, err := json.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvent("$event", roomID, sender, typ, stateKey, raw)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func roomState(members int) *RoomState {
	return &RoomState{
		Members:     members,
		DisplayName: func(string) string { return "Alice Liddell" },
		PowerLevels: func() *event.PowerLevelsEventContent {
			return &event.PowerLevelsEventContent{Users: map[id.UserID]int{admin: 100}}
		},
	}
}

func text(body string) map[string]any { return map[string]any{"msgtype": "m.text", "body": body} }

func withMentions(content map[string]any, users []string, room bool) map[string]any {
	mentions := map[string]any{}
	if users != nil {
		mentions["user_ids"] = users
	}
	if room {
		mentions["room"] = true
	}
	content["m.mentions"] = mentions
	return content
}

func ptr(s string) *string { return &s }

// TestCompiled_Match_Defaults matches events against alice's server-default
// rules: the rule that wins and what it does.
func TestCompiled_Match_Defaults(t *testing.T) {
	rules := Compile(Defaults(alice))
	tests := []struct {
		name      string
		sender    string
		typ       string
		stateKey  *string
		content   map[string]any
		members   int
		rule      string // "" for no match
		notify    bool
		highlight bool
	}{
		{"message", bob, "m.room.message", nil, text("hello"), 3, ".m.rule.message", true, false},
		{"one to one", bob, "m.room.message", nil, text("hello"), 2, ".m.rule.room_one_to_one", true, false},
		{"notice", bob, "m.room.message", nil, map[string]any{"msgtype": "m.notice", "body": "bot"}, 2,
			".m.rule.suppress_notices", false, false},
		{"encrypted", bob, "m.room.encrypted", nil, map[string]any{"algorithm": "m.megolm.v1.aes-sha2"}, 3,
			".m.rule.encrypted", true, false},
		{"encrypted one to one", bob, "m.room.encrypted", nil, map[string]any{"algorithm": "m.megolm.v1.aes-sha2"}, 2,
			".m.rule.encrypted_room_one_to_one", true, false},
		{"user mention", bob, "m.room.message", nil, withMentions(text("hi"), []string{alice}, false), 3,
			".m.rule.is_user_mention", true, true},
		{"mentions someone else", bob, "m.room.message", nil,
			withMentions(text("alice and Alice Liddell"), []string{bob}, false), 3, ".m.rule.message", true, false},
		{"user name without m.mentions", bob, "m.room.message", nil, text("hey ALICE!"), 3,
			".m.rule.contains_user_name", true, true},
		{"user name inside a word", bob, "m.room.message", nil, text("malice"), 3, ".m.rule.message", true, false},
		{"display name", bob, "m.room.message", nil, text("Hi Alice Liddell."), 3,
			".m.rule.contains_display_name", true, true},
		{"room mention by admin", admin, "m.room.message", nil, withMentions(text("all"), nil, true), 3,
			".m.rule.is_room_mention", true, true},
		{"room mention without power", bob, "m.room.message", nil, withMentions(text("all"), nil, true), 3,
			".m.rule.message", true, false},
		{"@room by admin", admin, "m.room.message", nil, text("look @room"), 3, ".m.rule.roomnotif", true, true},
		{"@room without power", bob, "m.room.message", nil, text("look @room"), 3, ".m.rule.message", true, false},
		{"@room with m.mentions", admin, "m.room.message", nil, withMentions(text("@room"), nil, false), 3,
			".m.rule.message", true, false},
		{"tombstone", admin, "m.room.tombstone", ptr(""), map[string]any{"replacement_room": "!new:test.local"}, 3,
			".m.rule.tombstone", true, true},
		{"tombstone with a state key", admin, "m.room.tombstone", ptr("x"), map[string]any{}, 3, "", false, false},
		{"reaction", bob, "m.reaction", nil, map[string]any{"m.relates_to": map[string]any{
			"rel_type": "m.annotation", "event_id": "$e", "key": "👍"}}, 2, ".m.rule.reaction", false, false},
		{"edit", bob, "m.room.message", nil, map[string]any{"body": "* fixed", "msgtype": "m.text",
			"m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": "$e"}}, 2, ".m.rule.suppress_edits", false, false},
		{"member event", bob, "m.room.member", ptr(bob), map[string]any{"membership": "join"}, 3,
			".m.rule.member_event", false, false},
		{"invite for me", bob, "m.room.member", ptr(alice), map[string]any{"membership": "invite"}, 3,
			".m.rule.invite_for_me", true, false},
		{"invite for someone else", bob, "m.room.member", ptr("@carol:test.local"), map[string]any{"membership": "invite"}, 3,
			".m.rule.member_event", false, false},
		{"call", bob, "m.call.invite", nil, map[string]any{"call_id": "c"}, 3, ".m.rule.call", true, false},
		{"server acl", admin, "m.room.server_acl", ptr(""), map[string]any{"allow": []string{"*"}}, 3,
			".m.rule.room.server_acl", false, false},
		{"other state", admin, "m.room.topic", ptr(""), map[string]any{"topic": "t"}, 3, "", false, false},
		{"message type with a suffix", bob, "m.room.message.extra", nil, text("x"), 3, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := mustEvent(t, tt.sender, tt.typ, tt.stateKey, tt.content)
			res, ok := rules.Match(ev, roomState(tt.members).For(alice))
			if got := map[bool]string{true: res.RuleID}[ok]; got != tt.rule {
				t.Fatalf("got rule %q, want %q", got, tt.rule)
			}
			if res.Notify != tt.notify || res.Highlight != tt.highlight {
				t.Errorf("got notify %v highlight %v, want %v %v", res.Notify, res.Highlight, tt.notify, tt.highlight)
			}
		})
	}
}

// TestCompiled_Match_Master: enabling .m.rule.master silences everything.
func TestCompiled_Match_Master(t *testing.T) {
	rs := Defaults(alice)
	if err := rs.SetEnabled(Override, ".m.rule.master", true); err != nil {
		t.Fatal(err)
	}
	res, ok := Compile(rs).Match(mustEvent(t, bob, "m.room.message", nil, withMentions(text("hi"), []string{alice}, false)),
		roomState(2).For(alice))
	if !ok || res.RuleID != ".m.rule.master" || res.Notify {
		t.Fatalf("got %+v %v, want .m.rule.master without notify", res, ok)
	}
}

// TestCompiled_Match_Conditions follows the spec's examples of each
// condition kind.
func TestCompiled_Match_Conditions(t *testing.T) {
	tests := []struct {
		name      string
		condition string
		typ       string
		content   map[string]any
		want      bool
	}{
		{"glob", `{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, "m.room.topic",
			map[string]any{"topic": "Lunch plans"}, true},
		{"glob case", `{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, "m.room.topic",
			map[string]any{"topic": "LUNCH"}, true},
		{"glob leading space", `{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, "m.room.topic",
			map[string]any{"topic": " lunch"}, false},
		{"glob ? needs a character", `{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}`, "m.room.topic",
			map[string]any{"topic": "lunc"}, false},
		{"literal ignores case", `{"kind":"event_match","key":"content.topic","pattern":"Lunch"}`, "m.room.topic",
			map[string]any{"topic": "lUNCH"}, true},
		{"literal is the whole value", `{"kind":"event_match","key":"content.topic","pattern":"lunch"}`, "m.room.topic",
			map[string]any{"topic": "lunch time"}, false},
		{"glob not a string", `{"kind":"event_match","key":"content.topic","pattern":"*"}`, "m.room.topic",
			map[string]any{"topic": nil}, false},
		{"glob absent", `{"kind":"event_match","key":"content.topic","pattern":"*"}`, "m.room.topic",
			map[string]any{}, false},
		{"body words", `{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, "m.room.message",
			text("An example event."), true},
		{"body whole", `{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, "m.room.message",
			text("exple"), true},
		{"body across words", `{"kind":"event_match","key":"content.body","pattern":"ex*ple"}`, "m.room.message",
			text("An exciting triple-whammy"), true},
		{"body inside a word", `{"kind":"event_match","key":"content.body","pattern":"ample"}`, "m.room.message",
			text("An example"), false},
		{"escaped dot", `{"kind":"event_property_is","key":"content.m\\.federate","value":true}`, "m.room.create",
			map[string]any{"m.federate": true}, true},
		{"no casting", `{"kind":"event_property_is","key":"content.m\\.federate","value":true}`, "m.room.create",
			map[string]any{"m.federate": "true"}, false},
		{"contains", `{"kind":"event_property_contains","key":"content.alt_aliases","value":"#myroom:example.com"}`,
			"m.room.canonical_alias", map[string]any{"alt_aliases": []string{"#a:example.org", "#myroom:example.com"}}, true},
		{"contains partial", `{"kind":"event_property_contains","key":"content.alt_aliases","value":":example.com"}`,
			"m.room.canonical_alias", map[string]any{"alt_aliases": []string{"#myroom:example.com"}}, false},
		{"is null", `{"kind":"event_property_is","key":"content.reason","value":null}`, "m.room.member",
			map[string]any{"reason": nil}, true},
		{"is null, absent", `{"kind":"event_property_is","key":"content.reason","value":null}`, "m.room.member",
			map[string]any{}, false},
		{"is a number", `{"kind":"event_property_is","key":"content.level","value":50}`, "org.example.level",
			map[string]any{"level": 50}, true},
		{"is another number", `{"kind":"event_property_is","key":"content.level","value":50}`, "org.example.level",
			map[string]any{"level": 51}, false},
		{"contains a number", `{"kind":"event_property_contains","key":"content.levels","value":50}`,
			"org.example.level", map[string]any{"levels": []int{1, 50}}, true},
		{"contains, not a list", `{"kind":"event_property_contains","key":"content.levels","value":50}`,
			"org.example.level", map[string]any{"levels": 50}, false},
		{"member count", `{"kind":"room_member_count","is":"<=10"}`, "m.room.message", text("x"), true},
		{"member count false", `{"kind":"room_member_count","is":">10"}`, "m.room.message", text("x"), false},
		{"unknown kind", `{"kind":"org.example.future"}`, "m.room.message", text("x"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &Ruleset{}
			err := rs.Put(Override, "r", RuleInput{
				Actions: json.RawMessage(`["notify"]`), Conditions: json.RawMessage("[" + tt.condition + "]"),
			}, "", "")
			if err != nil {
				t.Fatal(err)
			}
			_, got := Compile(rs).Match(mustEvent(t, bob, tt.typ, nil, tt.content), roomState(5).For(alice))
			if got != tt.want {
				t.Errorf("got match %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCompiled_Match_UserRules: user rules of each kind come before the
// server-default rules of their kind, and disabled rules never match.
func TestCompiled_Match_UserRules(t *testing.T) {
	rs := Defaults(alice)
	mustPut := func(k Kind, id, input string) {
		t.Helper()
		var in RuleInput
		if err := json.Unmarshal([]byte(input), &in); err != nil {
			t.Fatal(err)
		}
		if err := rs.Put(k, id, in, "", ""); err != nil {
			t.Fatalf("put %s: %v", id, err)
		}
	}
	mustPut(Room, roomID, `{"actions":[]}`)
	mustPut(Sender, bob, `{"actions":["notify",{"set_tweak":"highlight"}]}`)
	mustPut(Content, "cake", `{"pattern":"cake*lie","actions":["notify",{"set_tweak":"sound","value":"cakealarm.wav"}]}`)
	rules := Compile(rs)
	match := func(sender, body string) string {
		res, _ := rules.Match(mustEvent(t, sender, "m.room.message", nil, text(body)), roomState(3).For(alice))
		return res.RuleID
	}
	if got := match(admin, "the cake is a lie"); got != "cake" {
		t.Errorf("content rule: got %q, want cake", got)
	}
	if got := match(admin, "hello"); got != roomID {
		t.Errorf("room rule: got %q, want the room rule", got)
	}
	if err := rs.SetEnabled(Room, roomID, false); err != nil {
		t.Fatal(err)
	}
	rules = Compile(rs)
	if got := match(bob, "hello"); got != bob {
		t.Errorf("sender rule: got %q, want the sender rule", got)
	}
	if got := match(admin, "hello"); got != ".m.rule.message" {
		t.Errorf("disabled room rule: got %q, want .m.rule.message", got)
	}
}

func TestResultOf_Highlight(t *testing.T) {
	tests := []struct {
		actions string
		notify  bool
		high    bool
	}{
		{`["notify"]`, true, false},
		{`["notify",{"set_tweak":"highlight"}]`, true, true},
		{`["notify",{"set_tweak":"highlight","value":null}]`, true, true},
		{`["notify",{"set_tweak":"highlight","value":false}]`, true, false},
		{`[{"set_tweak":"sound","value":"default"}]`, false, false},
		{`[]`, false, false},
	}
	for _, tt := range tests {
		res := resultOf(&Rule{Actions: json.RawMessage(tt.actions)})
		if res.Notify != tt.notify || res.Highlight != tt.high {
			t.Errorf("%s: got notify %v highlight %v, want %v %v", tt.actions, res.Notify, res.Highlight, tt.notify, tt.high)
		}
	}
}

// BenchmarkCompiled_Match is one member's evaluation of a plain message
// against the default rules, the cost the evaluator pays per member.
func BenchmarkCompiled_Match(b *testing.B) {
	rules := Compile(Defaults(alice))
	raw, _ := json.Marshal(map[string]any{"msgtype": "m.text", "body": "lunch at noon, anyone?", "m.mentions": map[string]any{}})
	ev, err := NewEvent("$event", roomID, bob, "m.room.message", nil, raw)
	if err != nil {
		b.Fatal(err)
	}
	room := roomState(30).For(alice)
	b.ReportAllocs()
	for b.Loop() {
		if res, ok := rules.Match(ev, room); !ok || res.RuleID != ".m.rule.message" {
			b.Fatalf("got %q", res.RuleID)
		}
	}
}

// BenchmarkCompile is the cost of a cache miss: one user's ruleset, with
// the globs the users share compiled already.
func BenchmarkCompile(b *testing.B) {
	var cache compileCache
	compile(Defaults(bob), &cache, bob)
	rs := Defaults(alice)
	b.ReportAllocs()
	for b.Loop() {
		compile(rs, &cache, alice)
		delete(cache.globs, globKey{alice, false}) // the user's own patterns
		delete(cache.globs, globKey{"alice", true})
	}
}

// TestCompiled_Match_SharedEvent: one event matched against several
// members' rules in turn, as the evaluator does, gives each member the
// outcome of its own user-dependent conditions (display name, mentions),
// though conditions that depend on the event alone are matched once.
func TestCompiled_Match_SharedEvent(t *testing.T) {
	names := map[string]string{alice: "Alice Liddell", bob: "Bob Builder"}
	state := &RoomState{Members: 5, DisplayName: func(u string) string { return names[u] }}
	for _, tc := range []struct {
		name    string
		content map[string]any
		want    map[string]bool // user -> highlighted
	}{
		{"display name", text("over to you, Bob Builder"), map[string]bool{alice: false, bob: true}},
		{"display name, other order", text("Alice Liddell, look"), map[string]bool{alice: true, bob: false}},
		{"mention", withMentions(text("hi"), []string{alice}, false), map[string]bool{alice: true, bob: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustEvent(t, admin, "m.room.message", nil, tc.content)
			var cache compileCache
			for _, u := range []string{alice, bob} {
				res, ok := compile(Defaults(u), &cache, u).Match(ev, state.For(u))
				if !ok || !res.Notify || res.Highlight != tc.want[u] {
					t.Errorf("%s: got %+v (matched %v), want notify with highlight %v", u, res, ok, tc.want[u])
				}
			}
		})
	}
}

// TestCompile_SharedConditions: the server-default rules of many users
// share the conditions that do not name the user, and only those.
func TestCompile_SharedConditions(t *testing.T) {
	var cache compileCache
	compile(Defaults(alice), &cache, alice)
	one := len(cache.shares)
	if one == 0 {
		t.Fatal("no condition of the default rules is shared")
	}
	for i := range 50 {
		u := fmt.Sprintf("@user%d:test.local", i)
		compile(Defaults(u), &cache, u)
	}
	if len(cache.shares) != one {
		t.Errorf("after 51 users: %d shared conditions, want %d (one user's)", len(cache.shares), one)
	}
	for cond := range cache.shares {
		if strings.Contains(cond, "@user") || strings.Contains(cond, alice) {
			t.Errorf("a condition naming a user is shared: %s", cond)
		}
	}
}

// BenchmarkMatch_1000Members matches one message against the default
// rules of 1,000 members, as the evaluator does for a message in a room of
// 1,000.
func BenchmarkMatch_1000Members(b *testing.B) {
	var users []string
	var rules []*Compiled
	cache := &compileCache{}
	for i := range 1000 {
		u := fmt.Sprintf("@user%d:test.local", i)
		users = append(users, u)
		rules = append(rules, compile(Defaults(u), cache, u))
	}
	state := &RoomState{Members: 1000, DisplayName: func(u string) string { return "Member " + u[5:9] }}
	content, _ := json.Marshal(text("a message for everyone in the room, mentioning nobody in particular"))
	b.ResetTimer()
	for range b.N {
		ev, err := NewEvent("$event", roomID, admin, "m.room.message", nil, content)
		if err != nil {
			b.Fatal(err)
		}
		for i, u := range users {
			if res, ok := rules[i].Match(ev, state.For(u)); !ok || !res.Notify {
				b.Fatal("no notification")
			}
		}
	}
}

// TestContainsWord: a content pattern without wildcards matches as its
// regexp does.
func TestContainsWord(t *testing.T) {
	patterns := []string{"alice", "Bob_1", "@room", "é", "a.b", "x"}
	bodies := []string{"hi alice", "alice!", "xalice", "alice_", "ALICE", "Alice Liddell", "@room", "the@room",
		"a@room", "a.b c", "éclair", "café", "bob_1's", "bob_12", "x", "", "xx x", "axb", "alicealice alice"}
	for _, p := range patterns {
		re := globRegexp(p, true)
		for _, b := range bodies {
			if got, want := containsWord(strings.ToLower(b), strings.ToLower(p)), re.MatchString(b); got != want {
				t.Errorf("pattern %q in %q: got %v, the regexp says %v", p, b, got, want)
			}
		}
	}
}

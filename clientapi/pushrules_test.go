package clientapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

const pushRules = v3 + "/pushrules/global/"

// ruleset is a decoded push ruleset.
type ruleset map[string][]struct {
	RuleID     string            `json:"rule_id"`
	Default    bool              `json:"default"`
	Enabled    bool              `json:"enabled"`
	Pattern    *string           `json:"pattern"`
	Conditions []json.RawMessage `json:"conditions"`
	Actions    []json.RawMessage `json:"actions"`
}

func (s *testServer) rules(t *testing.T, u user) ruleset {
	t.Helper()
	r := s.do(t, "GET", pushRules, u.Token, nil)
	wantOK(t, r)
	var rs ruleset
	if err := json.Unmarshal(r.Raw, &rs); err != nil {
		t.Fatalf("%s: %v", r.Req, err)
	}
	return rs
}

// userRuleIDs lists the rule ids of a kind that are not server-default.
func (rs ruleset) userRuleIDs(kind string) []string {
	var out []string
	for _, r := range rs[kind] {
		if !r.Default {
			out = append(out, r.RuleID)
		}
	}
	return out
}

func rulePath(kind, id string) string { return pushRules + kind + "/" + url.PathEscape(id) }

func TestAPI_PushRules(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		t.Run("OKDefaults", func(t *testing.T) {
			r := s.do(t, "GET", v3+"/pushrules/", alice.Token, nil)
			wantOK(t, r)
			var all struct{ Global ruleset }
			if err := json.Unmarshal(r.Raw, &all); err != nil {
				t.Fatal(err)
			}
			override := all.Global["override"]
			if len(override) != 12 || override[0].RuleID != ".m.rule.master" || override[0].Enabled || !override[0].Default {
				t.Fatalf("override rules: got %+v", override)
			}
			content := all.Global["content"]
			if len(content) != 1 || content[0].Pattern == nil || *content[0].Pattern != "alice" {
				t.Fatalf("content rules: got %+v", content)
			}
			if len(all.Global["underride"]) != 5 || all.Global["room"] == nil || all.Global["sender"] == nil {
				t.Fatalf("got %s", r.Raw)
			}
		})
		t.Run("OKPutOrder", func(t *testing.T) {
			cond := map[string]any{"conditions": []any{map[string]any{"kind": "event_match", "key": "content.body", "pattern": "beer"}},
				"actions": []any{"notify"}}
			wantOK(t, s.do(t, "PUT", rulePath("override", "a"), alice.Token, cond))
			wantOK(t, s.do(t, "PUT", rulePath("override", "b"), alice.Token, cond))
			wantOK(t, s.do(t, "PUT", rulePath("override", "c")+"?after=b", alice.Token, cond))
			wantOK(t, s.do(t, "PUT", rulePath("override", "d")+"?before=a", alice.Token, cond))
			rs := s.rules(t, alice)
			if got := rs.userRuleIDs("override"); !slices.Equal(got, []string{"b", "c", "d", "a"}) {
				t.Fatalf("user override rules: got %v, want [b c d a]", got)
			}
			if rs["override"][0].RuleID != ".m.rule.master" || rs["override"][1].RuleID != "b" {
				t.Errorf("override order: got %s, %s first", rs["override"][0].RuleID, rs["override"][1].RuleID)
			}
			r := s.do(t, "GET", rulePath("override", "c"), alice.Token, nil)
			wantOK(t, r)
			if r.Body["default"] != false || r.Body["enabled"] != true || r.str("rule_id") != "c" {
				t.Errorf("rule c: got %s", r.Raw)
			}
			wantOK(t, s.do(t, "DELETE", rulePath("override", "c"), alice.Token, nil))
			wantErr(t, s.do(t, "GET", rulePath("override", "c"), alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			if got := s.rules(t, alice).userRuleIDs("override"); !slices.Equal(got, []string{"b", "d", "a"}) {
				t.Fatalf("after delete: got %v", got)
			}
		})
		t.Run("OKKinds", func(t *testing.T) {
			room := "!room:" + serverName
			wantOK(t, s.do(t, "PUT", rulePath("room", room), alice.Token, map[string]any{"actions": []any{}}))
			wantOK(t, s.do(t, "PUT", rulePath("sender", "@spambot:"+serverName), alice.Token, map[string]any{"actions": []any{}}))
			wantOK(t, s.do(t, "PUT", rulePath("content", "cake"), alice.Token,
				map[string]any{"pattern": "cake*lie", "actions": []any{"notify"}}))
			rs := s.rules(t, alice)
			if rs.userRuleIDs("room")[0] != room || rs.userRuleIDs("sender")[0] != "@spambot:"+serverName {
				t.Errorf("room and sender rules: got %v %v", rs["room"], rs["sender"])
			}
			if c := rs["content"]; c[0].RuleID != "cake" || *c[0].Pattern != "cake*lie" || c[1].RuleID != ".m.rule.contains_user_name" {
				t.Errorf("content rules: got %+v", c)
			}
		})
		t.Run("OKEnabledActions", func(t *testing.T) {
			message := rulePath("underride", ".m.rule.message")
			wantOK(t, s.do(t, "PUT", message+"/enabled", alice.Token, map[string]any{"enabled": false}))
			r := s.do(t, "GET", message+"/enabled", alice.Token, nil)
			wantOK(t, r)
			if string(r.Raw) != `{"enabled":false}` {
				t.Errorf("enabled: got %s", r.Raw)
			}
			actions := []any{"notify", map[string]any{"set_tweak": "sound", "value": "bing"}}
			wantOK(t, s.do(t, "PUT", message+"/actions", alice.Token, map[string]any{"actions": actions}))
			r = s.do(t, "GET", message+"/actions", alice.Token, nil)
			wantOK(t, r)
			if string(r.Raw) != `{"actions":["notify",{"set_tweak":"sound","value":"bing"}]}` {
				t.Errorf("actions: got %s", r.Raw)
			}
			r = s.do(t, "GET", message, alice.Token, nil)
			wantOK(t, r)
			if r.Body["default"] != true || r.Body["enabled"] != false || r.Body["conditions"] == nil {
				t.Errorf("server-default rule after changes: got %s", r.Raw)
			}
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			notify := map[string]any{"actions": []any{"notify"}}
			for _, r := range []response{
				s.do(t, "PUT", rulePath("underride", ".m.rule.message"), alice.Token, notify),
				s.do(t, "PUT", rulePath("override", ".mine"), alice.Token, notify),
				s.do(t, "PUT", rulePath("override", "a/b"), alice.Token, notify),
				s.do(t, "PUT", rulePath("bogus", "x"), alice.Token, notify),
				s.do(t, "PUT", rulePath("override", "x"), alice.Token, map[string]any{}),
				s.do(t, "PUT", rulePath("override", "x"), alice.Token, map[string]any{"actions": []any{"explode"}}),
				s.do(t, "PUT", rulePath("override", "x"), alice.Token, map[string]any{"actions": []any{},
					"conditions": []any{map[string]any{"kind": "event_match", "key": "type"}}}),
				s.do(t, "PUT", rulePath("content", "x"), alice.Token, notify),
				s.do(t, "PUT", rulePath("room", "not-a-room"), alice.Token, notify),
				s.do(t, "PUT", rulePath("override", "x")+"?before=.m.rule.message", alice.Token, notify),
				s.do(t, "DELETE", rulePath("override", ".m.rule.master"), alice.Token, nil),
				s.do(t, "PUT", rulePath("underride", ".m.rule.message")+"/actions", alice.Token,
					map[string]any{"actions": []any{map[string]any{"set_tweak": "highlight", "value": "loud"}}}),
			} {
				wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
			}
			// Reading a rule of a kind the server does not know finds nothing.
			wantErr(t, s.do(t, "GET", rulePath("bogus", "x"), alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("ErrUnknown", func(t *testing.T) {
			r := s.do(t, "PUT", rulePath("override", "x")+"?after=nosuchrule", alice.Token, map[string]any{"actions": []any{}})
			wantErr(t, r, http.StatusBadRequest, "M_UNKNOWN")
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			missing := rulePath("override", "nosuchrule")
			for _, r := range []response{
				s.do(t, "GET", missing, alice.Token, nil),
				s.do(t, "DELETE", missing, alice.Token, nil),
				s.do(t, "GET", missing+"/enabled", alice.Token, nil),
				s.do(t, "PUT", missing+"/enabled", alice.Token, map[string]any{"enabled": true}),
				s.do(t, "GET", missing+"/actions", alice.Token, nil),
				s.do(t, "PUT", missing+"/actions", alice.Token, map[string]any{"actions": []any{}}),
				s.do(t, "GET", rulePath("content", ".m.rule.message"), alice.Token, nil), // wrong kind
			} {
				wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
			}
		})
		t.Run("ErrBadJSON", func(t *testing.T) {
			enabled := rulePath("underride", ".m.rule.message") + "/enabled"
			wantErr(t, s.do(t, "PUT", enabled, alice.Token, map[string]any{}), http.StatusBadRequest, "M_BAD_JSON")
			wantErr(t, s.do(t, "PUT", enabled, alice.Token, map[string]any{"enabled": "yes"}), http.StatusBadRequest, "M_BAD_JSON")
			wantErr(t, s.do(t, "PUT", rulePath("underride", ".m.rule.message")+"/actions", alice.Token, map[string]any{}),
				http.StatusBadRequest, "M_BAD_JSON")
			wantErr(t, s.do(t, "PUT", rulePath("override", "x"), alice.Token, rawBody("{")), http.StatusBadRequest, "M_NOT_JSON")
		})
		t.Run("ErrMissingToken", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", pushRules, "", nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
		t.Run("ErrAccountDataAPI", func(t *testing.T) {
			r := s.do(t, "PUT", v3+"/user/"+url.PathEscape(alice.ID)+"/account_data/m.push_rules", alice.Token,
				map[string]any{"global": map[string]any{}})
			if r.Status == http.StatusOK {
				t.Fatalf("%s: got 200, want a refusal", r.Req)
			}
		})
	})
}

// TestAPI_PushRulesSync: /sync carries m.push_rules, the defaults in an
// initial sync, the user's changes in the next incremental one.
func TestAPI_PushRulesSync(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		initial := s.do(t, "GET", v3+"/sync", alice.Token, nil)
		wantOK(t, initial)
		if rs := pushRulesOf(t, initial); rs == nil || len(rs["override"]) == 0 {
			t.Fatalf("initial sync without the default m.push_rules: %s", initial.Raw)
		}
		quiet := s.do(t, "GET", v3+"/sync?since="+initial.str("next_batch"), alice.Token, nil)
		wantOK(t, quiet)
		if rs := pushRulesOf(t, quiet); rs != nil {
			t.Errorf("incremental sync without changes carries m.push_rules: %s", quiet.Raw)
		}
		wantOK(t, s.do(t, "PUT", rulePath("override", "mine"), alice.Token, map[string]any{"actions": []any{}}))
		r := s.do(t, "GET", v3+"/sync?since="+quiet.str("next_batch"), alice.Token, nil)
		wantOK(t, r)
		rs := pushRulesOf(t, r)
		if rs == nil || !slices.Contains(rs.userRuleIDs("override"), "mine") || len(rs["underride"]) != 5 {
			t.Fatalf("sync after the change: got %s", r.Raw)
		}
	})
}

// pushRulesOf returns the global ruleset of the m.push_rules account data
// in a /sync response, or nil.
func pushRulesOf(t *testing.T, r response) ruleset {
	t.Helper()
	var body struct {
		AccountData struct {
			Events []struct {
				Type    string `json:"type"`
				Content struct {
					Global ruleset `json:"global"`
				} `json:"content"`
			} `json:"events"`
		} `json:"account_data"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatal(err)
	}
	for _, ev := range body.AccountData.Events {
		if ev.Type == "m.push_rules" {
			return ev.Content.Global
		}
	}
	return nil
}

// TestAPI_PushRulesFollowUpgrade: a room's push rules carry over to its
// upgrade, for the upgrader at once and for other members when they join
// the new room; rules naming other rooms stay where they are.
func TestAPI_PushRulesFollowUpgrade(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat", "room_version": "10"})
		other := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, room)
		quiet := map[string]any{"actions": []string{"dont_notify"}}
		for _, u := range []user{alice, bob} {
			wantOK(t, s.do(t, "PUT", pushRules+"room/"+url.PathEscape(room), u.Token, quiet))
		}
		mentionsOnly := map[string]any{"actions": []string{"dont_notify"},
			"conditions": []map[string]string{{"kind": "event_match", "key": "room_id", "pattern": room}}}
		wantOK(t, s.do(t, "PUT", pushRules+"override/"+url.PathEscape(room), alice.Token, mentionsOnly))
		wantOK(t, s.do(t, "PUT", pushRules+"room/"+url.PathEscape(other), alice.Token, quiet))

		r := s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/upgrade", alice.Token, map[string]any{"new_version": "11"})
		wantOK(t, r)
		newRoom := r.str("replacement_room")

		rs := s.rules(t, alice)
		if got, want := rs.userRuleIDs("room"), []string{other, room, newRoom}; !sameSet(got, want) {
			t.Errorf("alice's room rules after the upgrade: got %v, want %v", got, want)
		}
		if got, want := rs.userRuleIDs("override"), []string{room, newRoom}; !sameSet(got, want) {
			t.Errorf("alice's override rules after the upgrade: got %v, want %v", got, want)
		}
		for _, rule := range rs["override"] {
			if rule.RuleID != newRoom {
				continue
			}
			var cond struct{ Kind, Key, Pattern string }
			if len(rule.Conditions) != 1 || json.Unmarshal(rule.Conditions[0], &cond) != nil ||
				cond != (struct{ Kind, Key, Pattern string }{"event_match", "room_id", newRoom}) {
				t.Errorf("copied override rule's conditions: %s", rule.Conditions)
			}
		}
		if got := s.rules(t, bob).userRuleIDs("room"); !sameSet(got, []string{room}) {
			t.Errorf("bob's room rules before he joins the new room: got %v", got)
		}
		s.dirJoin(t, bob, newRoom)
		if got := s.rules(t, bob).userRuleIDs("room"); !sameSet(got, []string{room, newRoom}) {
			t.Errorf("bob's room rules after he joined the new room: got %v", got)
		}

		// A client upgrading by hand creates the new room naming the old one.
		manual := s.dirRoom(t, bob, map[string]any{"preset": "public_chat",
			"creation_content": map[string]any{"predecessor": map[string]string{"room_id": newRoom}}})
		if got := s.rules(t, bob).userRuleIDs("room"); !sameSet(got, []string{room, newRoom, manual}) {
			t.Errorf("bob's room rules after he created a room replacing one: got %v", got)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

package push

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func ids(rules []*Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.RuleID
	}
	return out
}

func notify() RuleInput { return RuleInput{Actions: json.RawMessage(`["notify"]`)} }

func mustPutRule(t *testing.T, rs *Ruleset, k Kind, id, before, after string) {
	t.Helper()
	if err := rs.Put(k, id, notify(), before, after); err != nil {
		t.Fatalf("put %s: %v", id, err)
	}
}

func TestRuleset_Put(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		rs := Defaults(alice)
		mustPutRule(t, rs, Override, "a", "", "")
		mustPutRule(t, rs, Override, "b", "", "")   // new: most important user rule
		mustPutRule(t, rs, Override, "c", "", "b")  // just after b
		mustPutRule(t, rs, Override, "d", "b", "")  // just before b
		mustPutRule(t, rs, Override, "e", "a", "d") // before wins
		mustPutRule(t, rs, Override, "c", "", "")   // replaced: keeps its place
		got := ids(rs.Rules(Override))
		want := []string{".m.rule.master", "d", "b", "c", "e", "a", ".m.rule.suppress_notices"}
		if !slices.Equal(got[:len(want)], want) {
			t.Fatalf("override order: got %v, want %v...", got, want)
		}
		mustPutRule(t, rs, Override, "a", "d", "") // moved
		if got := ids(rs.Rules(Override))[1:7]; !slices.Equal(got, []string{"a", "d", "b", "c", "e", ".m.rule.suppress_notices"}) {
			t.Fatalf("after moving a: got %v", got)
		}
	})
	t.Run("KeepsEnabled", func(t *testing.T) {
		rs := Defaults(alice)
		mustPutRule(t, rs, Underride, "u", "", "")
		if err := rs.SetEnabled(Underride, "u", false); err != nil {
			t.Fatal(err)
		}
		mustPutRule(t, rs, Underride, "u", "", "")
		if r, _ := rs.Find(Underride, "u"); r.Enabled {
			t.Error("replacing a disabled rule enabled it")
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		tests := []struct {
			name string
			kind Kind
			id   string
			in   string
		}{
			{"reserved id", Override, ".m.rule.message", `{"actions":["notify"]}`},
			{"slash", Override, "a/b", `{"actions":["notify"]}`},
			{"no actions", Override, "x", `{}`},
			{"actions not a list", Override, "x", `{"actions":"notify"}`},
			{"unknown action", Override, "x", `{"actions":["shout"]}`},
			{"tweak without name", Override, "x", `{"actions":[{"value":1}]}`},
			{"highlight not a boolean", Override, "x", `{"actions":[{"set_tweak":"highlight","value":"yes"}]}`},
			{"condition without kind", Override, "x", `{"actions":[],"conditions":[{"key":"type"}]}`},
			{"event_match without pattern", Underride, "x", `{"actions":[],"conditions":[{"kind":"event_match","key":"type"}]}`},
			{"compound value", Override, "x", `{"actions":[],"conditions":[{"kind":"event_property_is","key":"content.a","value":{}}]}`},
			{"float value", Override, "x", `{"actions":[],"conditions":[{"kind":"event_property_is","key":"content.a","value":1.5}]}`},
			{"member count", Override, "x", `{"actions":[],"conditions":[{"kind":"room_member_count","is":"about 3"}]}`},
			{"content without pattern", Content, "x", `{"actions":["notify"]}`},
			{"room rule id", Room, "x", `{"actions":[]}`},
			{"sender rule id", Sender, "x", `{"actions":[]}`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var in RuleInput
				if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
					t.Fatal(err)
				}
				if err := Defaults(alice).Put(tt.kind, tt.id, in, "", ""); !errors.Is(err, ErrInvalid) {
					t.Errorf("got %v, want ErrInvalid", err)
				}
			})
		}
	})
	t.Run("ErrAnchor", func(t *testing.T) {
		rs := Defaults(alice)
		if err := rs.Put(Override, "x", notify(), "missing", ""); !errors.Is(err, ErrAnchor) {
			t.Errorf("before a missing rule: got %v, want ErrAnchor", err)
		}
		if err := rs.Put(Override, "x", notify(), "", ".m.rule.message"); !errors.Is(err, ErrInvalid) {
			t.Errorf("after a server-default rule: got %v, want ErrInvalid", err)
		}
		if len(rs.user[Override]) != 0 {
			t.Errorf("failed puts left rules behind: %v", ids(rs.user[Override]))
		}
	})
	t.Run("KeepsHistoricalActions", func(t *testing.T) {
		rs := &Ruleset{}
		in := RuleInput{Actions: json.RawMessage(`["dont_notify", "coalesce", {"set_tweak": "sound", "value": "x"}]`)}
		if err := rs.Put(Override, "x", in, "", ""); err != nil {
			t.Fatal(err)
		}
		if r, _ := rs.Find(Override, "x"); string(r.Actions) != `["dont_notify","coalesce",{"set_tweak":"sound","value":"x"}]` {
			t.Errorf("got actions %s, want them as sent (clients read them back)", r.Actions)
		}
	})
}

func TestRuleset_Delete(t *testing.T) {
	rs := Defaults(alice)
	t.Run("ErrInvalid", func(t *testing.T) {
		if err := rs.Delete(Override, ".m.rule.message"); !errors.Is(err, ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", err)
		}
	})
	mustPutRule(t, rs, Override, "x", "", "")
	t.Run("OK", func(t *testing.T) {
		if err := rs.Delete(Override, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := rs.Find(Override, "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("after delete: got %v, want ErrNotFound", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if err := rs.Delete(Override, "x"); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
}

// TestLoad: what a ruleset stores reads back, with the server's own
// server-default rules carrying the user's enabled flags and actions.
func TestLoad(t *testing.T) {
	rs := Defaults(alice)
	mustPutRule(t, rs, Override, "mine", "", "")
	if err := rs.SetEnabled(Override, ".m.rule.master", true); err != nil {
		t.Fatal(err)
	}
	if err := rs.SetActions(Underride, ".m.rule.message", json.RawMessage(`[]`)); err != nil {
		t.Fatal(err)
	}
	stored, err := rs.AccountData()
	if err != nil {
		t.Fatal(err)
	}
	// A default rule this server no longer has is dropped.
	stored = json.RawMessage(strings.Replace(string(stored), `"rule_id":".m.rule.reaction"`, `"rule_id":".m.rule.gone"`, 1))
	back, err := Load(alice, stored)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(back.Rules(Override))[:3]; !slices.Equal(got, []string{".m.rule.master", "mine", ".m.rule.suppress_notices"}) {
		t.Errorf("override: got %v", got)
	}
	if r, _ := back.Find(Override, ".m.rule.master"); !r.Enabled || !r.Default {
		t.Errorf("master: got %+v, want enabled default", r)
	}
	if r, _ := back.Find(Override, ".m.rule.reaction"); r == nil {
		t.Error("a server-default rule missing from storage was not added")
	}
	if _, err := back.Find(Override, ".m.rule.gone"); !errors.Is(err, ErrNotFound) {
		t.Error("an unknown server-default rule was kept")
	}
	if r, _ := back.Find(Underride, ".m.rule.message"); string(r.Actions) != "[]" {
		t.Errorf("message actions: got %s, want []", r.Actions)
	}
	if r, _ := back.Find(Override, "mine"); r.Default {
		t.Error("a user rule reads back as a default rule")
	}
}

// TestRuleset_MarshalJSON: the spec's form, every kind present.
func TestRuleset_MarshalJSON(t *testing.T) {
	raw, err := json.Marshal(Defaults(alice))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string][]map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"override", "content", "room", "sender", "underride"} {
		if got[k] == nil {
			t.Errorf("kind %s missing or null: %s", k, raw)
		}
	}
	master := got["override"][0]
	if master["rule_id"] != ".m.rule.master" || master["enabled"] != false || master["default"] != true {
		t.Errorf("first override rule: got %v", master)
	}
	if c, ok := master["conditions"].([]any); !ok || len(c) != 0 {
		t.Errorf("master conditions: got %v, want []", master["conditions"])
	}
	user := got["content"][0]
	if user["rule_id"] != ".m.rule.contains_user_name" || user["pattern"] != "alice" {
		t.Errorf("content rule: got %v", user)
	}
	if _, ok := user["conditions"]; ok {
		t.Errorf("content rule has conditions: %v", user)
	}
	mention := got["override"][4]
	conds, _ := mention["conditions"].([]any)
	if len(conds) != 1 {
		t.Fatalf("is_user_mention conditions: got %v", mention["conditions"])
	}
	want := map[string]any{"kind": "event_property_contains", "key": `content.m\.mentions.user_ids`, "value": alice}
	for k, v := range want {
		if got := conds[0].(map[string]any)[k]; got != v {
			t.Errorf("is_user_mention condition %s: got %v, want %v", k, got, v)
		}
	}
}

// Package push evaluates push rules: the spec's server-default ruleset,
// each user's changes to it (kept as the m.push_rules account data), and
// the Evaluator that matches every new event against the rules of the
// room's local members to count their unread notifications.
package push

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RulesType is the global account data type that holds a user's ruleset.
const RulesType = "m.push_rules"

// Kind is the kind of a push rule, which decides its priority.
type Kind int

// The kinds in the order they are checked (client-server API, Push Rules).
const (
	Override Kind = iota
	Content
	Room
	Sender
	Underride
	numKinds
)

var kindNames = [numKinds]string{"override", "content", "room", "sender", "underride"}

func (k Kind) String() string { return kindNames[k] }

// ParseKind reads a kind's name; ok is false for an unknown kind.
func ParseKind(s string) (k Kind, ok bool) {
	for i, name := range kindNames {
		if name == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// Rule is one push rule in the spec's JSON form. Conditions and actions are
// kept as the JSON they were given, so that what a client stored is what
// it reads back.
type Rule struct {
	RuleID     string          `json:"rule_id"`
	Default    bool            `json:"default"`
	Enabled    bool            `json:"enabled"`
	Conditions json.RawMessage `json:"conditions,omitempty"` // override and underride rules
	Pattern    *string         `json:"pattern,omitempty"`    // content rules
	Actions    json.RawMessage `json:"actions"`
}

// masterRule is the server-default rule that precedes even user rules.
const masterRule = ".m.rule.master"

// Ruleset is a user's global push ruleset: the server-default rules, with
// the user's enabled flags and actions, and the user's own rules.
type Ruleset struct {
	user     [numKinds][]*Rule // most important first
	defaults [numKinds][]*Rule // in the spec's order
}

// Rules returns the rules of a kind in priority order: for override rules
// .m.rule.master, then the user's, then the other server-default rules;
// for the other kinds the user's, then the server-default ones.
func (rs *Ruleset) Rules(k Kind) []*Rule {
	defaults := rs.defaults[k]
	out := make([]*Rule, 0, len(defaults)+len(rs.user[k]))
	if len(defaults) > 0 && defaults[0].RuleID == masterRule {
		out = append(out, defaults[0])
		defaults = defaults[1:]
	}
	out = append(out, rs.user[k]...)
	return append(out, defaults...)
}

// wireRuleset is a ruleset as the spec's JSON has it.
type wireRuleset struct {
	Override  []*Rule `json:"override"`
	Content   []*Rule `json:"content"`
	Room      []*Rule `json:"room"`
	Sender    []*Rule `json:"sender"`
	Underride []*Rule `json:"underride"`
}

func (w *wireRuleset) lists() [numKinds]*[]*Rule {
	return [numKinds]*[]*Rule{&w.Override, &w.Content, &w.Room, &w.Sender, &w.Underride}
}

// MarshalJSON writes the ruleset as the spec's object of five lists.
func (rs *Ruleset) MarshalJSON() ([]byte, error) {
	var w wireRuleset
	for k, list := range w.lists() {
		*list = rs.Rules(Kind(k))
	}
	return json.Marshal(&w)
}

// AccountData returns the m.push_rules content: {"global": ruleset}.
func (rs *Ruleset) AccountData() (json.RawMessage, error) {
	return json.Marshal(map[string]*Ruleset{"global": rs})
}

// Load returns a user's ruleset from its stored m.push_rules content (nil:
// none). The server-default rules come from this server's version of them,
// with the enabled flags and actions the content gives them; user rules
// come from the content in its order. Server-default rules the content
// lacks are added, ones this server no longer has are dropped.
func Load(userID string, stored json.RawMessage) (*Ruleset, error) {
	rs := Defaults(userID)
	if len(stored) == 0 {
		return rs, nil
	}
	var content struct {
		Global wireRuleset `json:"global"`
	}
	if err := json.Unmarshal(stored, &content); err != nil {
		return rs, fmt.Errorf("read %s of %s: %w", RulesType, userID, err)
	}
	for k, list := range content.Global.lists() {
		seen := map[string]bool{}
		for _, r := range *list {
			if r == nil || r.RuleID == "" || seen[r.RuleID] {
				continue
			}
			seen[r.RuleID] = true
			if !strings.HasPrefix(r.RuleID, ".") {
				r.Default = false
				if len(r.Actions) == 0 {
					r.Actions = json.RawMessage("[]")
				}
				rs.user[k] = append(rs.user[k], r)
				continue
			}
			if d := find(rs.defaults[k], r.RuleID); d >= 0 {
				def := rs.defaults[k][d]
				def.Enabled = r.Enabled
				if len(r.Actions) > 0 && r.Actions[0] == '[' {
					def.Actions = r.Actions
				}
			}
		}
	}
	return rs, nil
}

// find returns the index of the rule with the id, or -1.
func find(rules []*Rule, id string) int {
	for i, r := range rules {
		if r.RuleID == id {
			return i
		}
	}
	return -1
}

package push

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// RuleInput is the body of PUT /pushrules/global/{kind}/{ruleId}.
type RuleInput struct {
	Actions    json.RawMessage `json:"actions"`
	Conditions json.RawMessage `json:"conditions"`
	Pattern    *string         `json:"pattern"`
}

// Find returns the rule of the kind with the id, or ErrNotFound.
func (rs *Ruleset) Find(k Kind, id string) (*Rule, error) {
	if i := find(rs.user[k], id); i >= 0 {
		return rs.user[k][i], nil
	}
	if i := find(rs.defaults[k], id); i >= 0 {
		return rs.defaults[k][i], nil
	}
	return nil, ErrNotFound
}

// Put adds a user rule or replaces the one with the id. A new rule is
// enabled. It goes just before the user rule before, or else just after
// the user rule after; without either, a new rule becomes the most
// important user rule of its kind and a replaced one keeps its place.
// Server-default rules cannot be put (ErrInvalid), nor be anchors.
// Returns ErrAnchor if the anchor is not a rule of the kind.
func (rs *Ruleset) Put(k Kind, id string, in RuleInput, before, after string) error {
	if err := checkUserRuleID(k, id); err != nil {
		return err
	}
	actions, err := checkActions(in.Actions)
	if err != nil {
		return err
	}
	r := &Rule{RuleID: id, Enabled: true, Actions: actions}
	switch k {
	case Override, Underride:
		if r.Conditions, err = checkConditions(in.Conditions); err != nil {
			return err
		}
	case Content:
		if in.Pattern == nil || *in.Pattern == "" {
			return invalid("a content rule needs a pattern")
		}
		pattern := *in.Pattern
		r.Pattern = &pattern
	}
	users := slices.Clone(rs.user[k])
	at := 0
	if i := find(users, id); i >= 0 {
		r.Enabled = users[i].Enabled
		users = slices.Delete(users, i, i+1)
		at = i
	}
	if at, err = anchorIndex(users, before, after, at); err != nil {
		return err
	}
	rs.user[k] = slices.Insert(users, at, r)
	return nil
}

// anchorIndex returns where a rule goes among users (which no longer hold
// it): before the rule before, after the rule after, or at otherwise.
func anchorIndex(users []*Rule, before, after string, otherwise int) (int, error) {
	anchor, offset := before, 0
	if anchor == "" {
		anchor, offset = after, 1
	}
	if anchor == "" {
		return otherwise, nil
	}
	if strings.HasPrefix(anchor, ".") {
		return 0, invalid("rules cannot be placed relative to server-default rules")
	}
	i := find(users, anchor)
	if i < 0 {
		return 0, ErrAnchor
	}
	return i + offset, nil
}

// Delete removes a user rule. Server-default rules cannot be deleted
// (ErrInvalid); returns ErrNotFound if the user has no such rule.
func (rs *Ruleset) Delete(k Kind, id string) error {
	if strings.HasPrefix(id, ".") {
		return invalid("server-default rules cannot be deleted")
	}
	i := find(rs.user[k], id)
	if i < 0 {
		return ErrNotFound
	}
	rs.user[k] = slices.Delete(slices.Clone(rs.user[k]), i, i+1)
	return nil
}

// SetEnabled enables or disables a rule, server-default rules included.
func (rs *Ruleset) SetEnabled(k Kind, id string, enabled bool) error {
	r, err := rs.Find(k, id)
	if err != nil {
		return err
	}
	r.Enabled = enabled
	return nil
}

// SetActions replaces a rule's actions, server-default rules included.
func (rs *Ruleset) SetActions(k Kind, id string, actions json.RawMessage) error {
	r, err := rs.Find(k, id)
	if err != nil {
		return err
	}
	checked, err := checkActions(actions)
	if err != nil {
		return err
	}
	r.Actions = checked
	return nil
}

// CopyRoomRules gives the room to the user's rules for the room from, as a
// room upgrade carries them over: the room rule with from's id, and the
// override and underride rules whose id names from (their conditions then
// name to instead). A rule to already has is kept. Reports whether
// anything was added.
func (rs *Ruleset) CopyRoomRules(from, to string) bool {
	quotedFrom, quotedTo := []byte(strconv.Quote(from)), []byte(strconv.Quote(to))
	added := false
	for _, k := range []Kind{Override, Room, Underride} {
		for _, r := range rs.user[k] {
			if !strings.Contains(r.RuleID, from) {
				continue
			}
			id := strings.ReplaceAll(r.RuleID, from, to)
			if find(rs.user[k], id) >= 0 {
				continue
			}
			copied := *r
			copied.RuleID = id
			copied.Conditions = bytes.ReplaceAll(r.Conditions, quotedFrom, quotedTo)
			rs.user[k] = append(rs.user[k], &copied)
			added = true
		}
	}
	return added
}

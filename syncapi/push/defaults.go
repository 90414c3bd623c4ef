package push

import (
	"encoding/json"
	"strings"
)

// The server-default rules, written from the client-server API's
// "Predefined Rules" (v1.16 for the three legacy mention rules that v1.17
// removed: .m.rule.contains_display_name, .m.rule.roomnotif and
// .m.rule.contains_user_name, which clients still show and which match
// only events without m.mentions, see legacyRules).

// Actions used by the default rules.
const (
	actNotify       = `"notify"`
	actSoundDefault = `{"set_tweak":"sound","value":"default"}`
	actSoundRing    = `{"set_tweak":"sound","value":"ring"}`
	actHighlight    = `{"set_tweak":"highlight"}`
)

// Defaults returns the server-default ruleset of a user, every rule with
// default true.
func Defaults(userID string) *Ruleset {
	localpart, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	rs := &Ruleset{}
	rs.defaults[Override] = []*Rule{
		rule(".m.rule.master", false, nil),
		rule(".m.rule.suppress_notices", true, []string{eventMatch("content.msgtype", "m.notice")}),
		rule(".m.rule.invite_for_me", true, []string{
			eventMatch("type", "m.room.member"),
			eventMatch("content.membership", "invite"),
			eventMatch("state_key", userID),
		}, actNotify, actSoundDefault),
		rule(".m.rule.member_event", true, []string{eventMatch("type", "m.room.member")}),
		rule(".m.rule.is_user_mention", true, []string{
			propertyCondition("event_property_contains", `content.m\.mentions.user_ids`, userID),
		}, actNotify, actSoundDefault, actHighlight),
		rule(".m.rule.contains_display_name", true, []string{`{"kind":"contains_display_name"}`},
			actNotify, actSoundDefault, actHighlight),
		rule(".m.rule.is_room_mention", true, []string{
			propertyCondition("event_property_is", `content.m\.mentions.room`, true),
			senderPermission("room"),
		}, actNotify, actHighlight),
		rule(".m.rule.roomnotif", true, []string{
			eventMatch("content.body", "@room"),
			senderPermission("room"),
		}, actNotify, actHighlight),
		rule(".m.rule.tombstone", true, []string{
			eventMatch("type", "m.room.tombstone"),
			eventMatch("state_key", ""),
		}, actNotify, actHighlight),
		rule(".m.rule.reaction", true, []string{eventMatch("type", "m.reaction")}),
		rule(".m.rule.room.server_acl", true, []string{
			eventMatch("type", "m.room.server_acl"),
			eventMatch("state_key", ""),
		}),
		rule(".m.rule.suppress_edits", true, []string{
			propertyCondition("event_property_is", `content.m\.relates_to.rel_type`, "m.replace"),
		}),
	}
	userName := rule(".m.rule.contains_user_name", true, nil, actNotify, actSoundDefault, actHighlight)
	userName.Conditions, userName.Pattern = nil, &localpart
	rs.defaults[Content] = []*Rule{userName}
	rs.defaults[Underride] = []*Rule{
		rule(".m.rule.call", true, []string{eventMatch("type", "m.call.invite")}, actNotify, actSoundRing),
		rule(".m.rule.encrypted_room_one_to_one", true, []string{
			memberCount("2"),
			eventMatch("type", "m.room.encrypted"),
		}, actNotify, actSoundDefault),
		rule(".m.rule.room_one_to_one", true, []string{
			memberCount("2"),
			eventMatch("type", "m.room.message"),
		}, actNotify, actSoundDefault),
		rule(".m.rule.message", true, []string{eventMatch("type", "m.room.message")}, actNotify),
		rule(".m.rule.encrypted", true, []string{eventMatch("type", "m.room.encrypted")}, actNotify),
	}
	return rs
}

// legacyRules match only events without m.mentions: since v1.7 a client
// that sends m.mentions says exactly whom it mentions.
var legacyRules = map[string]bool{
	".m.rule.contains_display_name": true,
	".m.rule.contains_user_name":    true,
	".m.rule.roomnotif":             true,
}

func rule(id string, enabled bool, conditions []string, actions ...string) *Rule {
	return &Rule{
		RuleID:     id,
		Default:    true,
		Enabled:    enabled,
		Conditions: json.RawMessage("[" + strings.Join(conditions, ",") + "]"),
		Actions:    json.RawMessage("[" + strings.Join(actions, ",") + "]"),
	}
}

func eventMatch(key, pattern string) string {
	return mustJSON(map[string]string{"kind": "event_match", "key": key, "pattern": pattern})
}

func propertyCondition(kind, key string, value any) string {
	return mustJSON(map[string]any{"kind": kind, "key": key, "value": value})
}

func senderPermission(key string) string {
	return mustJSON(map[string]string{"kind": "sender_notification_permission", "key": key})
}

func memberCount(is string) string {
	return mustJSON(map[string]string{"kind": "room_member_count", "is": is})
}

// mustJSON marshals maps of strings and bools, which cannot fail.
func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

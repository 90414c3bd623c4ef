package push

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Errors of rule edits; test them with errors.Is.
var (
	// ErrNotFound: no rule of the kind has the id.
	ErrNotFound = errors.New("push rule not found")
	// ErrInvalid: the rule, its id, actions or conditions break the spec.
	ErrInvalid = errors.New("invalid push rule")
	// ErrAnchor: the before or after rule of a PUT does not exist.
	ErrAnchor = errors.New("before/after rule not found")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// checkUserRuleID refuses ids reserved for server-default rules (a leading
// dot) and ids with slashes, and ids that do not fit the kind: a room
// rule's id is a room id, a sender rule's a user id.
func checkUserRuleID(k Kind, id string) error {
	switch {
	case id == "":
		return invalid("rule id must not be empty")
	case strings.HasPrefix(id, "."):
		return invalid("rule ids starting with '.' are reserved for server-default rules")
	case strings.ContainsAny(id, `/\`):
		return invalid("rule ids must not contain slashes")
	case k == Room && !strings.HasPrefix(id, "!"):
		return invalid("the id of a room rule is a room id")
	case k == Sender && (!strings.HasPrefix(id, "@") || !strings.Contains(id, ":")):
		return invalid("the id of a sender rule is a user id")
	}
	return nil
}

// checkActions validates an actions array. The historical actions
// dont_notify and coalesce are kept as the client sent them (clients read
// them back) but do nothing: only notify notifies.
func checkActions(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, invalid("actions is required")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid("actions must be an array")
	}
	kept := make([]string, 0, len(items))
	for _, item := range items {
		var name string
		if json.Unmarshal(item, &name) == nil {
			switch name {
			case "notify":
				kept = append(kept, actNotify)
			case "dont_notify", "coalesce":
				kept = append(kept, strconv.Quote(name))
			default:
				return nil, invalid("unknown action %q", name)
			}
			continue
		}
		tweak, err := checkTweak(item)
		if err != nil {
			return nil, err
		}
		kept = append(kept, tweak)
	}
	return json.RawMessage("[" + strings.Join(kept, ",") + "]"), nil
}

// checkTweak validates a set_tweak action and returns it compacted.
func checkTweak(item json.RawMessage) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(item, &obj); err != nil {
		return "", invalid("an action is a string or an object")
	}
	var tweak string
	if err := json.Unmarshal(obj["set_tweak"], &tweak); err != nil || tweak == "" {
		return "", invalid("an action object needs a set_tweak string")
	}
	if value, ok := obj["value"]; ok && tweak == "highlight" {
		var b *bool
		if err := json.Unmarshal(value, &b); err != nil {
			return "", invalid("the highlight tweak's value is a boolean")
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, item); err != nil {
		return "", invalid("malformed action")
	}
	return buf.String(), nil
}

// memberCountIs is the form of room_member_count's is parameter.
var memberCountIs = regexp.MustCompile(`^(==|<|>|<=|>=)?[0-9]+$`)

// checkConditions validates a conditions array (absent: none). Kinds the
// spec does not define are kept: they never match.
func checkConditions(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return json.RawMessage("[]"), nil
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid("conditions must be an array of objects")
	}
	for i, c := range items {
		if err := checkCondition(c); err != nil {
			return nil, fmt.Errorf("condition %d: %w", i, err)
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, invalid("malformed conditions")
	}
	return buf.Bytes(), nil
}

func checkCondition(c map[string]json.RawMessage) error {
	if c == nil {
		return invalid("a condition is an object")
	}
	kind, ok := stringField(c, "kind")
	if !ok || kind == "" {
		return invalid("a condition needs a kind")
	}
	switch kind {
	case "event_match":
		if key, ok := stringField(c, "key"); !ok || key == "" {
			return invalid("event_match needs a key")
		}
		if _, ok := stringField(c, "pattern"); !ok {
			return invalid("event_match needs a pattern")
		}
	case "event_property_is", "event_property_contains":
		if key, ok := stringField(c, "key"); !ok || key == "" {
			return invalid("%s needs a key", kind)
		}
		if !scalarValue(c["value"]) {
			return invalid("%s needs a value: a string, an integer, a boolean or null", kind)
		}
	case "room_member_count":
		if is, ok := stringField(c, "is"); !ok || !memberCountIs.MatchString(is) {
			return invalid("room_member_count needs is: an integer with an optional ==, <, >, <= or >=")
		}
	case "sender_notification_permission":
		if key, ok := stringField(c, "key"); !ok || key == "" {
			return invalid("sender_notification_permission needs a key")
		}
	}
	return nil
}

func stringField(c map[string]json.RawMessage, name string) (string, bool) {
	var s string
	raw, found := c[name]
	return s, found && json.Unmarshal(raw, &s) == nil
}

// maxSafeInteger bounds the integers of canonical JSON.
const maxSafeInteger = 1<<53 - 1

// scalarValue reports whether raw is a non-compound canonical JSON value:
// a string, an integer in the safe range, a boolean or null.
func scalarValue(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return false
	}
	switch v := v.(type) {
	case string, bool, nil:
		return true
	case json.Number:
		n, err := v.Int64()
		return err == nil && n >= -maxSafeInteger && n <= maxSafeInteger
	}
	return false
}

package push

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/pushrules"
)

// Matching follows the spec's "Push Rules" section. Conditions other than
// event_match (event_property_is, event_property_contains,
// contains_display_name, room_member_count, sender_notification_permission)
// are matched by mautrix's pushrules. event_match and content rules are
// matched here, with globs compiled once per ruleset: mautrix treats a
// pattern without wildcards as "contains" (so the tombstone rule's
// state_key "" would match any state key) and bounds content patterns by
// \b (so "@room" never matches " @room"), where the spec asks for the
// whole value, and for content.body for a substring between word
// boundaries.

// Result is what a matching rule asks for.
type Result struct {
	RuleID    string
	Actions   json.RawMessage
	Notify    bool
	Highlight bool
}

// Compiled is a ruleset ready for matching: its enabled rules in priority
// order, with their patterns compiled.
type Compiled struct {
	rules   []compiledRule
	ignored map[string]bool // senders whose events never notify; the Evaluator's
}

type compiledRule struct {
	kind   Kind
	id     string
	legacy bool
	conds  []condition
	body   *regexp.Regexp // content rules
	// literal is a content rule's pattern, lower-cased, when it has no
	// wildcards (as the default .m.rule.contains_user_name): a word search
	// instead of a regexp, per member per message.
	literal string
	result  Result
}

// condition is one compiled condition: an event_match glob, a condition
// mautrix matches, or one that never matches (unknown or malformed).
type condition struct {
	path []string
	glob *regexp.Regexp
	mx   *pushrules.PushCondition
	// memo names the condition among those whose outcome depends on the
	// event and the room alone, not on whose rules they are in: an event
	// matches each once, however many members' rules hold it. "" for
	// contains_display_name, which asks for the user's display name.
	memo string
}

// Compile prepares a ruleset for matching.
func Compile(rs *Ruleset) *Compiled { return compile(rs, nil) }

// compile is Compile taking the globs from a cache (nil: none).
func compile(rs *Ruleset, globs *globCache) *Compiled {
	c := &Compiled{}
	for k := Kind(0); k < numKinds; k++ {
		for _, r := range rs.Rules(k) {
			if !r.Enabled {
				continue
			}
			cr := compiledRule{kind: k, id: r.RuleID, legacy: r.Default && legacyRules[r.RuleID], result: resultOf(r)}
			switch k {
			case Override, Underride:
				cr.conds = compileConditions(r.Conditions, globs)
			case Content:
				if r.Pattern == nil {
					continue
				}
				if strings.ContainsAny(*r.Pattern, "*?") || *r.Pattern == "" {
					cr.body = globs.get(*r.Pattern, true)
				} else {
					cr.literal = strings.ToLower(*r.Pattern)
				}
			}
			c.rules = append(c.rules, cr)
		}
	}
	return c
}

func compileConditions(raw json.RawMessage, globs *globCache) []condition {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return []condition{{}} // never matches
	}
	out := make([]condition, len(items))
	for i, item := range items {
		var mx pushrules.PushCondition
		if err := json.Unmarshal(item, &mx); err != nil {
			continue
		}
		if mx.Kind == pushrules.KindEventMatch {
			out[i] = condition{path: SplitPath(mx.Key), glob: globs.get(mx.Pattern, mx.Key == "content.body"),
				memo: string(item)}
			continue
		}
		out[i] = condition{mx: &mx}
		if mx.Kind != pushrules.KindContainsDisplayName {
			out[i].memo = string(item)
		}
	}
	return out
}

// resultOf reads a rule's actions: notify, and the highlight tweak (true
// when given without a value).
func resultOf(r *Rule) Result {
	res := Result{RuleID: r.RuleID, Actions: r.Actions}
	var items []json.RawMessage
	_ = json.Unmarshal(r.Actions, &items) // validated on write; anything else does nothing
	for _, item := range items {
		var name string
		if json.Unmarshal(item, &name) == nil {
			res.Notify = res.Notify || name == "notify"
			continue
		}
		var tweak struct {
			SetTweak string           `json:"set_tweak"`
			Value    *json.RawMessage `json:"value"`
		}
		if json.Unmarshal(item, &tweak) != nil || tweak.SetTweak != "highlight" {
			continue
		}
		highlight := true
		if tweak.Value != nil {
			var v *bool
			if json.Unmarshal(*tweak.Value, &v) == nil && v != nil {
				highlight = *v
			}
		}
		res.Highlight = highlight
	}
	return res
}

// Match returns the result of the first rule that matches the event in
// the room, as the user the ruleset belongs to sees it; ok is false if no
// rule matches.
func (c *Compiled) Match(ev *Event, room pushrules.Room) (res Result, ok bool) {
	for i := range c.rules {
		r := &c.rules[i]
		if r.legacy && ev.mentions {
			continue
		}
		if r.matches(ev, room) {
			return r.result, true
		}
	}
	return Result{}, false
}

func (r *compiledRule) matches(ev *Event, room pushrules.Room) bool {
	switch r.kind {
	case Content:
		if r.body == nil {
			return ev.hasBody && containsWord(ev.lowerBody(), r.literal)
		}
		return ev.hasBody && r.body.MatchString(ev.body)
	case Room:
		return r.id == ev.mx.RoomID.String()
	case Sender:
		return r.id == ev.mx.Sender.String()
	}
	for _, c := range r.conds {
		if !c.matches(ev, room) {
			return false
		}
	}
	return true
}

func (c *condition) matches(ev *Event, room pushrules.Room) bool {
	if c.memo == "" {
		return c.match(ev, room)
	}
	if v, ok := ev.memo[c.memo]; ok {
		return v
	}
	v := c.match(ev, room)
	ev.memo[c.memo] = v
	return v
}

func (c *condition) match(ev *Event, room pushrules.Room) bool {
	switch {
	case c.glob != nil:
		value, ok := lookup(ev.fields, c.path).(string)
		return ok && c.glob.MatchString(value)
	case c.mx != nil:
		return c.mx.Match(room, ev.mx)
	}
	return false
}

// wordBoundary is a character that ends a word in content.body matching:
// anything but [A-Za-z0-9_].
const wordBoundary = `[^A-Za-z0-9_]`

// containsWord reports whether s holds word between word boundaries (the
// start, the end, or a byte outside [A-Za-z0-9_]), as the regexp of a
// content pattern without wildcards would match it.
func containsWord(s, word string) bool {
	for from := 0; from+len(word) <= len(s); {
		i := strings.Index(s[from:], word)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(word)
		if (i == 0 || !isWordByte(s[i-1])) && (end == len(s) || !isWordByte(s[end])) {
			return true
		}
		from = i + 1
	}
	return false
}

func isWordByte(b byte) bool {
	return b == '_' || ('0' <= b && b <= '9') || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}

// globRegexp compiles a glob ('*' any run of characters, '?' one
// character) to a case-insensitive regexp matching a whole value, or with
// words any substring that starts and ends at a word boundary.
func globRegexp(glob string, words bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)")
	if words {
		b.WriteString("(?:^|" + wordBoundary + ")")
	} else {
		b.WriteString("^")
	}
	for _, r := range glob {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if words {
		b.WriteString("(?:" + wordBoundary + "|$)")
	} else {
		b.WriteString("$")
	}
	return regexp.MustCompile(b.String()) // every character is quoted or a valid operator
}

// globCache shares compiled globs between rulesets: most patterns are the
// same in every user's rules. Regexps are safe for concurrent use.
type globCache struct {
	mu sync.Mutex
	m  map[globKey]*regexp.Regexp
}

type globKey struct {
	glob  string
	words bool
}

// maxCachedGlobs bounds the cache; past it, it starts again empty.
const maxCachedGlobs = 10_000

// get returns the compiled glob, from the cache if c is not nil.
func (c *globCache) get(glob string, words bool) *regexp.Regexp {
	if c == nil {
		return globRegexp(glob, words)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := globKey{glob, words}
	if re, ok := c.m[k]; ok {
		return re
	}
	if c.m == nil || len(c.m) >= maxCachedGlobs {
		c.m = map[globKey]*regexp.Regexp{}
	}
	re := globRegexp(glob, words)
	c.m[k] = re
	return re
}

// SplitPath splits a dot-separated property path, where "\." is a dot
// within a key and "\\" a backslash (Appendices, "Dot-separated property
// paths"), as push conditions and sync filters' event_fields use them.
func SplitPath(key string) []string {
	var (
		parts []string
		cur   strings.Builder
	)
	for i := 0; i < len(key); i++ {
		switch {
		case key[i] == '\\' && i+1 < len(key) && (key[i+1] == '.' || key[i+1] == '\\'):
			i++
			cur.WriteByte(key[i])
		case key[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(key[i])
		}
	}
	return append(parts, cur.String())
}

// lookup follows a property path through nested objects; nil if absent.
func lookup(v any, path []string) any {
	for _, key := range path {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = obj[key]; !ok {
			return nil
		}
	}
	return v
}

// Event is one event prepared for matching against many rulesets, one
// after another (not concurrently), in one room.
type Event struct {
	mx       *event.Event
	fields   map[string]any // the top-level properties event_match sees
	body     string
	hasBody  bool
	mentions bool            // content has m.mentions
	memo     map[string]bool // outcomes of conditions by condition.memo
	lower    *string         // body lower-cased, once asked for
}

func (ev *Event) lowerBody() string {
	if ev.lower == nil {
		l := strings.ToLower(ev.body)
		ev.lower = &l
	}
	return *ev.lower
}

// NewEvent prepares an event for matching from its parts; content is the
// event's content JSON object.
func NewEvent(eventID, roomID, sender, typ string, stateKey *string, content json.RawMessage) (*Event, error) {
	raw := map[string]any{}
	if err := json.Unmarshal(content, &raw); err != nil {
		return nil, err
	}
	ev := &Event{
		mx: &event.Event{
			ID: idOf(eventID), RoomID: roomOf(roomID), Sender: userOf(sender), Type: event.Type{Type: typ},
			StateKey: stateKey, Content: event.Content{VeryRaw: content, Raw: raw},
		},
		fields: map[string]any{"event_id": eventID, "room_id": roomID, "sender": sender, "type": typ, "content": raw},
		memo:   map[string]bool{},
	}
	if stateKey != nil {
		ev.fields["state_key"] = *stateKey
	}
	ev.body, ev.hasBody = raw["body"].(string)
	_, ev.mentions = raw["m.mentions"]
	return ev, nil
}

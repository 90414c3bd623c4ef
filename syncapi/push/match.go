package push

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/pushrules"
)

// Matching follows the spec's "Push Rules" section. contains_display_name,
// room_member_count and sender_notification_permission are matched by
// mautrix's pushrules. event_match, event_property_is,
// event_property_contains and content rules are matched here, with globs
// and property paths compiled once per ruleset: mautrix treats a
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
	conds  []*condition   // shared between rulesets: not to be changed
	body   *regexp.Regexp // content rules
	// literal is a content rule's pattern, lower-cased, when it has no
	// wildcards (as the default .m.rule.contains_user_name): a word search
	// instead of a regexp, per member per message.
	literal string
	result  Result
}

// condition is one compiled condition: an event_match glob, an
// event_property_is or _contains value, a condition mautrix matches, or
// one that never matches (unknown or malformed).
type condition struct {
	path     []string
	glob     *regexp.Regexp
	literal  string // an event_match pattern without wildcards (glob is nil)
	property bool   // event_property_is, or with contains event_property_contains
	contains bool
	value    any // a property condition's value: a string, float64, bool or nil
	mx       *pushrules.PushCondition
	// memo is the condition's index in Event.memo when it is shared: its
	// outcome depends on the event and the room alone, not on whose rules
	// hold it, so an event matches it once however many members' rules
	// hold it. -1 for contains_display_name, which asks for the user's
	// display name, and for a condition that names the user (no other
	// ruleset holds it: an index would be wasted).
	memo int
}

// Compile prepares a ruleset for matching.
func Compile(rs *Ruleset) *Compiled { return compile(rs, nil, "") }

// compile is Compile taking the globs and the indexes of shared conditions
// from a cache (nil: none, and no condition is shared). owner is the user
// the ruleset belongs to: conditions naming it are not shared.
func compile(rs *Ruleset, cache *compileCache, owner string) *Compiled {
	c := &Compiled{}
	for k := Kind(0); k < numKinds; k++ {
		for _, r := range rs.Rules(k) {
			if !r.Enabled {
				continue
			}
			cr := compiledRule{kind: k, id: r.RuleID, legacy: r.Default && legacyRules[r.RuleID], result: resultOf(r)}
			switch k {
			case Override, Underride:
				cr.conds = compileConditions(r.Conditions, cache, owner)
			case Content:
				if r.Pattern == nil {
					continue
				}
				if strings.ContainsAny(*r.Pattern, "*?") || *r.Pattern == "" {
					cr.body = cache.glob(*r.Pattern, true)
				} else {
					cr.literal = strings.ToLower(*r.Pattern)
				}
			}
			c.rules = append(c.rules, cr)
		}
	}
	return c
}

// compileConditions compiles a rule's conditions; those every ruleset may
// hold (not naming the owner, not asking for its display name) come from
// the cache when it has them, compiled once for every user.
func compileConditions(raw json.RawMessage, cache *compileCache, owner string) []*condition {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return []*condition{{memo: -1}} // never matches
	}
	out := make([]*condition, len(items))
	for i, item := range items {
		if c := cache.sharedCondition(string(item)); c != nil {
			out[i] = c
			continue
		}
		c, mx := compileCondition(item, cache)
		if mx != nil && mx.Kind != pushrules.KindContainsDisplayName && (owner == "" || !strings.Contains(string(item), owner)) {
			c = cache.share(string(item), c)
		}
		out[i] = c
	}
	return out
}

// compileCondition compiles one condition; mx is nil if it is malformed.
func compileCondition(item json.RawMessage, cache *compileCache) (*condition, *pushrules.PushCondition) {
	c := &condition{memo: -1}
	var mx pushrules.PushCondition
	if err := json.Unmarshal(item, &mx); err != nil {
		return c, nil
	}
	switch mx.Kind {
	case pushrules.KindEventMatch:
		c.path = SplitPath(mx.Key)
		if words := mx.Key == "content.body"; words || strings.ContainsAny(mx.Pattern, "*?") {
			c.glob = cache.glob(mx.Pattern, words)
		} else {
			c.literal = mx.Pattern
		}
	case pushrules.KindEventPropertyIs, pushrules.KindEventPropertyContains:
		if !scalar(mx.Value) {
			return c, &mx
		}
		c.path, c.property, c.value = SplitPath(mx.Key), true, mx.Value
		c.contains = mx.Kind == pushrules.KindEventPropertyContains
	default:
		c.mx = &mx
	}
	return c, &mx
}

// scalar reports whether a JSON value decoded into an any is a string,
// number, boolean or null: what property conditions compare.
func scalar(v any) bool {
	switch v.(type) {
	case string, float64, bool, nil:
		return true
	}
	return false
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

// Outcomes in Event.memo.
const (
	unknown uint8 = iota
	unmatched
	matched
)

func (c *condition) matches(ev *Event, room pushrules.Room) bool {
	if c.memo < 0 {
		return c.match(ev, room)
	}
	if c.memo >= len(ev.memo) {
		ev.memo = append(ev.memo, make([]uint8, c.memo+1-len(ev.memo))...)
	} else if v := ev.memo[c.memo]; v != unknown {
		return v == matched
	}
	v := c.match(ev, room)
	ev.memo[c.memo] = unmatched
	if v {
		ev.memo[c.memo] = matched
	}
	return v
}

func (c *condition) match(ev *Event, room pushrules.Room) bool {
	switch {
	case c.glob != nil:
		value, _ := lookup(ev.fields, c.path)
		s, ok := value.(string)
		return ok && c.glob.MatchString(s)
	case c.path != nil && !c.property: // a literal event_match: the whole value, ignoring case
		value, _ := lookup(ev.fields, c.path)
		s, ok := value.(string)
		return ok && strings.EqualFold(s, c.literal)
	case c.property:
		value, ok := lookup(ev.fields, c.path)
		if !ok {
			return false
		}
		if !c.contains {
			return value == c.value // c.value is never a map or slice: no panic
		}
		list, _ := value.([]any)
		for _, item := range list {
			if item == c.value {
				return true
			}
		}
		return false
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

// compileCache is what rulesets compiled by one Evaluator share: compiled
// globs (most patterns are the same in every user's rules; regexps are
// safe for concurrent use), and the conditions every ruleset may hold,
// compiled once, with their index in Event.memo.
type compileCache struct {
	mu     sync.Mutex
	globs  map[globKey]*regexp.Regexp
	shares map[string]*condition // by the condition's JSON
}

type globKey struct {
	glob  string
	words bool
}

// Cache bounds. Past maxCachedGlobs, the globs start again empty; past
// maxSharedConditions, new conditions are compiled per ruleset (an index,
// once given, stays: compiled rulesets hold it).
const (
	maxCachedGlobs      = 10_000
	maxSharedConditions = 1_000
)

// glob returns the compiled glob, from the cache if c is not nil.
func (c *compileCache) glob(glob string, words bool) *regexp.Regexp {
	if c == nil {
		return globRegexp(glob, words)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := globKey{glob, words}
	if re, ok := c.globs[k]; ok {
		return re
	}
	if c.globs == nil || len(c.globs) >= maxCachedGlobs {
		c.globs = map[globKey]*regexp.Regexp{}
	}
	re := globRegexp(glob, words)
	c.globs[k] = re
	return re
}

// sharedCondition returns the shared condition with the JSON, nil if
// there is none (or c is nil).
func (c *compileCache) sharedCondition(cond string) *condition {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shares[cond]
}

// share makes the compiled condition with the JSON shared, with the next
// index, and returns the shared one: compiled is dropped if another
// ruleset shared the condition first. Past maxSharedConditions (or with c
// nil), it returns compiled, not shared.
func (c *compileCache) share(cond string, compiled *condition) *condition {
	if c == nil {
		return compiled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if shared, ok := c.shares[cond]; ok {
		return shared
	}
	if len(c.shares) >= maxSharedConditions {
		return compiled
	}
	if c.shares == nil {
		c.shares = map[string]*condition{}
	}
	compiled.memo = len(c.shares)
	c.shares[cond] = compiled
	return compiled
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

// lookup follows a property path through nested objects; ok is false if
// there is nothing at its end.
func lookup(v any, path []string) (_ any, ok bool) {
	for _, key := range path {
		obj, isObj := v.(map[string]any)
		if !isObj {
			return nil, false
		}
		if v, ok = obj[key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Event is one event prepared for matching against many rulesets, one
// after another (not concurrently), in one room.
type Event struct {
	mx       *event.Event
	fields   map[string]any // the top-level properties event_match sees
	body     string
	hasBody  bool
	mentions bool    // content has m.mentions
	memo     []uint8 // outcomes of shared conditions by condition.memo
	lower    *string // body lower-cased, once asked for
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
	}
	if stateKey != nil {
		ev.fields["state_key"] = *stateKey
	}
	ev.body, ev.hasBody = raw["body"].(string)
	_, ev.mentions = raw["m.mentions"]
	return ev, nil
}

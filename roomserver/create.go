package roomserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// CreateRequest is a local user's request for a new room, already checked
// for form by the client API. Content fields hold JSON objects or are nil.
type CreateRequest struct {
	Creator         string
	Version         string // "" for the default
	CreationContent json.RawMessage
	CreatorMember   json.RawMessage // the creator's join content (displayname, avatar_url)
	PowerLevels     json.RawMessage // power_level_content_override
	Preset          string          // PresetPrivate, PresetPublic or PresetTrustedPrivate
	Alias           string          // the canonical alias, already reserved, or ""
	InitialState    []StateEvent
	Name, Topic     *string
	Invites         []string
	IsDirect        bool
}

// StateEvent is one state event of initial_state.
type StateEvent struct {
	Type     string
	StateKey string
	Content  json.RawMessage
}

// Presets of createRoom.
const (
	PresetPrivate        = "private_chat"
	PresetPublic         = "public_chat"
	PresetTrustedPrivate = "trusted_private_chat"
)

// UnsupportedVersionError is returned for a room version the server does
// not support.
type UnsupportedVersionError struct{ Version string }

func (e *UnsupportedVersionError) Error() string { return "unsupported room version " + e.Version }

// CreateRoom creates a room with all its initial events in one
// transaction, in the spec's order: create, the creator's join, power
// levels, canonical alias, the preset's join rules, history visibility and
// guest access, initial_state, name, topic, then invites. It returns the
// room id.
func (r *Roomserver) CreateRoom(ctx context.Context, req CreateRequest) (string, error) {
	version := req.Version
	if version == "" {
		version = r.cfg.DefaultRoomVersion
	}
	if !SupportedVersion(version) {
		return "", &UnsupportedVersionError{Version: version}
	}
	verImpl := gmsl.MustGetRoomVersion(gmsl.RoomVersion(version))
	ri := &roomInfo{version: verImpl, state: map[gmsl.StateKeyTuple]storage.EventNID{}}
	if !verImpl.DomainlessRoomIDs() {
		ri.id = "!" + randomID() + ":" + string(r.serverName)
	}
	b := r.newBatch(ri)
	create, err := b.add(ctx, Proto{Sender: req.Creator, Type: spec.MRoomCreate, StateKey: ptr(""),
		Content: createContent(req, verImpl)})
	if err != nil {
		return "", err
	}
	if verImpl.DomainlessRoomIDs() {
		b.ri.id = "!" + create.EventID()[1:]
	}
	for _, p := range createEvents(req, verImpl) {
		p.RoomID, p.Sender = b.ri.id, req.Creator
		if _, err := b.add(ctx, p); err != nil {
			return "", err
		}
	}
	if _, err := b.commit(ctx); err != nil {
		return "", err
	}
	return b.ri.id, nil
}

// createContent is the m.room.create content: creation_content plus the
// room version, and the creator in versions that still name it there. In
// versions with privileged creators (12 on), trusted_private_chat appends
// the invitees to additional_creators, as the spec's createRoom asks.
func createContent(req CreateRequest, v gmsl.IRoomVersion) json.RawMessage {
	content := objectOf(req.CreationContent)
	content["room_version"] = string(v.Version())
	if v.CreatorInCreateEvent() {
		content["creator"] = req.Creator
	} else {
		delete(content, "creator")
	}
	if v.PrivilegedCreators() && req.Preset == PresetTrustedPrivate && len(req.Invites) > 0 {
		content["additional_creators"] = additionalCreators(content["additional_creators"], req)
	}
	return mustJSON(content)
}

// additionalCreators is the given additional_creators (kept as it is if
// it is not a list: the auth rules judge it) with the invitees appended
// once each.
func additionalCreators(given any, req CreateRequest) any {
	list, ok := given.([]any)
	if given != nil && !ok {
		return given
	}
	seen := map[any]bool{req.Creator: true}
	for _, u := range list {
		seen[u] = true
	}
	for _, invitee := range req.Invites {
		if !seen[invitee] {
			list = append(list, invitee)
			seen[invitee] = true
		}
	}
	return list
}

// createEvents lists the events after m.room.create, in order.
func createEvents(req CreateRequest, v gmsl.IRoomVersion) []Proto {
	member := objectOf(req.CreatorMember)
	member["membership"] = spec.Join
	out := []Proto{
		{Type: spec.MRoomMember, StateKey: ptr(req.Creator), Content: mustJSON(member)},
		{Type: spec.MRoomPowerLevels, StateKey: ptr(""), Content: powerLevels(req, v)},
	}
	if req.Alias != "" {
		out = append(out, state(spec.MRoomCanonicalAlias, "", map[string]any{"alias": req.Alias}))
	}
	joinRule, guests := spec.Invite, "can_join"
	if req.Preset == PresetPublic {
		joinRule, guests = spec.Public, "forbidden"
	}
	out = append(out,
		state(spec.MRoomJoinRules, "", map[string]any{"join_rule": joinRule}),
		state(spec.MRoomHistoryVisibility, "", map[string]any{"history_visibility": "shared"}),
		state(spec.MRoomGuestAccess, "", map[string]any{"guest_access": guests}),
	)
	for _, s := range req.InitialState {
		out = append(out, Proto{Type: s.Type, StateKey: ptr(s.StateKey), Content: s.Content})
	}
	if req.Name != nil {
		out = append(out, state(spec.MRoomName, "", map[string]any{"name": *req.Name}))
	}
	if req.Topic != nil {
		out = append(out, state(spec.MRoomTopic, "", map[string]any{
			"topic": *req.Topic, "m.topic": map[string]any{"m.text": []map[string]any{{"body": *req.Topic}}},
		}))
	}
	for _, invitee := range req.Invites {
		content := map[string]any{"membership": spec.Invite}
		if req.IsDirect {
			content["is_direct"] = true
		}
		out = append(out, state(spec.MRoomMember, invitee, content))
	}
	return out
}

// powerLevels is the initial m.room.power_levels content: the spec's
// defaults, the creator (and for trusted_private_chat the invitees) at
// 100, then power_level_content_override on top. Versions with privileged
// creators list no creator in users: the creator and the trusted invitees
// (additional creators there) have the highest power already.
func powerLevels(req CreateRequest, v gmsl.IRoomVersion) json.RawMessage {
	users := map[string]any{}
	if !v.PrivilegedCreators() {
		users[req.Creator] = 100
	}
	if req.Preset == PresetTrustedPrivate && !v.PrivilegedCreators() {
		for _, invitee := range req.Invites {
			users[invitee] = 100
		}
	}
	invite := 0
	if req.Preset == PresetPublic {
		invite = 50
	}
	content := map[string]any{
		"users": users, "users_default": 0,
		"events": map[string]any{
			spec.MRoomName: 50, spec.MRoomPowerLevels: 100, spec.MRoomHistoryVisibility: 100,
			spec.MRoomCanonicalAlias: 50, "m.room.avatar": 50, "m.room.tombstone": 100,
			"m.room.server_acl": 100, "m.room.encryption": 100,
		},
		"events_default": 0, "state_default": 50,
		"ban": 50, "kick": 50, "redact": 50, "invite": invite,
		"notifications": map[string]any{"room": 50},
	}
	for k, val := range objectOf(req.PowerLevels) {
		content[k] = val
	}
	return mustJSON(content)
}

func state(typ, key string, content map[string]any) Proto {
	return Proto{Type: typ, StateKey: ptr(key), Content: mustJSON(content)}
}

// objectOf decodes a JSON object (the client API has checked it is one);
// nil gives an empty map.
func objectOf(raw json.RawMessage) map[string]any {
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return m
}

func mustJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of JSON values reach here
	}
	return data
}

func ptr[T any](v T) *T { return &v }

// randomID returns 18 random URL-safe characters, for room ids.
func randomID() string {
	b := make([]byte, 14)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:18]
}

package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
)

const (
	defaultPublicRoomsLimit = 100
	maxPublicRoomsLimit     = 1000
)

// publicRoomsQuery is a request for a page of the published room directory.
type publicRoomsQuery struct {
	Limit                *int              `json:"limit"`
	Since                string            `json:"since"`
	Filter               publicRoomsFilter `json:"filter"`
	IncludeAllNetworks   bool              `json:"include_all_networks"`
	ThirdPartyInstanceID string            `json:"third_party_instance_id"`
}

type publicRoomsFilter struct {
	GenericSearchTerm string `json:"generic_search_term"`
	// RoomTypes lists room types; a null entry stands for rooms without a
	// type. Empty: every room.
	RoomTypes []*string `json:"room_types"`
}

// publicRoom is one entry of the chunk (PublishedRoomsChunk in the spec).
type publicRoom struct {
	RoomID           string `json:"room_id"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	NumJoinedMembers int64  `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	JoinRule         string `json:"join_rule,omitempty"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
}

// getPublicRooms is GET /_matrix/client/v3/publicRooms (client-server API,
// Published room directory); it needs no access token.
func (a *API) getPublicRooms(w http.ResponseWriter, r *http.Request) error {
	q := publicRoomsQuery{Since: r.URL.Query().Get("since")}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return mxerr.InvalidParam("limit must be an integer")
		}
		q.Limit = &n
	}
	return a.publicRooms(w, r, q)
}

// postPublicRooms is POST /_matrix/client/v3/publicRooms (client-server
// API, Published room directory), with a filter.
func (a *API) postPublicRooms(w http.ResponseWriter, r *http.Request, _ *Session) error {
	var q publicRoomsQuery
	if err := a.decode(r, &q); err != nil {
		return err
	}
	return a.publicRooms(w, r, q)
}

// publicRooms answers both forms: the rooms with the most joined members
// first, paged by offsets in opaque tokens.
func (a *API) publicRooms(w http.ResponseWriter, r *http.Request, q publicRoomsQuery) error {
	if server := r.URL.Query().Get("server"); server != "" && server != a.cfg.ServerName {
		return mxerr.NotFound("room directories of other servers are not available")
	}
	limit := defaultPublicRoomsLimit
	if q.Limit != nil {
		if *q.Limit < 0 {
			return mxerr.InvalidParam("limit must not be negative")
		}
		if *q.Limit > 0 {
			limit = min(*q.Limit, maxPublicRoomsLimit)
		}
	}
	offset := 0
	if q.Since != "" {
		var valid bool
		if offset, valid = parseDirectoryToken(q.Since); !valid {
			return mxerr.InvalidParam("malformed since token")
		}
	}
	var matching []publicRoom
	if q.ThirdPartyInstanceID == "" { // no application service networks yet
		var err error
		if matching, err = a.matchingPublicRooms(r.Context(), q.Filter, offset, limit); err != nil {
			return err
		}
	}
	total := len(matching)
	offset = min(offset, total)
	end := min(offset+limit, total)
	chunk := matching[offset:end]
	if chunk == nil {
		chunk = []publicRoom{}
	}
	resp := map[string]any{"chunk": chunk, "total_room_count_estimate": total}
	if end < total {
		resp["next_batch"] = directoryToken(end)
	}
	if offset > 0 {
		resp["prev_batch"] = directoryToken(max(offset-limit, 0))
	}
	return ok(w, resp)
}

// matchingPublicRooms lists the published rooms that pass the filter, in
// directory order. Without a filter only the entries of the page from
// offset are filled in; the others have just their id and member count.
func (a *API) matchingPublicRooms(ctx context.Context, filter publicRoomsFilter, offset, limit int) ([]publicRoom, error) {
	published, err := a.db.PublishedRooms(ctx)
	if err != nil {
		return nil, err
	}
	rooms := make([]publicRoom, len(published))
	for i, p := range published {
		rooms[i] = publicRoom{RoomID: p.RoomID, NumJoinedMembers: p.JoinedMembers}
	}
	filtering := filter.GenericSearchTerm != "" || len(filter.RoomTypes) > 0
	fill := rooms
	if !filtering {
		offset = min(offset, len(rooms))
		fill = rooms[offset:min(offset+limit, len(rooms))]
	}
	if err := a.fillPublicRooms(ctx, fill); err != nil {
		return nil, err
	}
	if !filtering {
		return rooms, nil
	}
	term := strings.ToLower(filter.GenericSearchTerm)
	out := rooms[:0]
	for _, room := range rooms {
		if room.matches(term, filter.RoomTypes) {
			out = append(out, room)
		}
	}
	return out, nil
}

// directoryStateTypes are the state events a directory entry shows.
var directoryStateTypes = []string{
	spec.MRoomCreate, spec.MRoomName, spec.MRoomTopic, spec.MRoomCanonicalAlias, "m.room.avatar",
	spec.MRoomJoinRules, spec.MRoomHistoryVisibility, spec.MRoomGuestAccess,
}

// fillPublicRooms fills in the entries from the rooms' current state.
func (a *API) fillPublicRooms(ctx context.Context, rooms []publicRoom) error {
	if len(rooms) == 0 {
		return nil
	}
	ids := make([]string, len(rooms))
	for i, room := range rooms {
		ids[i] = room.RoomID
	}
	state, err := a.db.RoomsStateJSON(ctx, ids, directoryStateTypes)
	if err != nil {
		return err
	}
	for i := range rooms {
		rooms[i].fill(state[rooms[i].RoomID])
	}
	return nil
}

// directoryContent holds the content fields of the directory's state
// events; each event sets its own.
type directoryContent struct {
	Type              string `json:"type"` // m.room.create
	Name              string `json:"name"`
	Topic             string `json:"topic"`
	Alias             string `json:"alias"`
	URL               string `json:"url"`
	JoinRule          string `json:"join_rule"`
	HistoryVisibility string `json:"history_visibility"`
	GuestAccess       string `json:"guest_access"`
}

// fill sets the entry's fields from the JSON of its state events by type.
// Malformed content leaves a field empty.
func (p *publicRoom) fill(events map[string]json.RawMessage) {
	content := func(typ string) directoryContent {
		var ev struct {
			Content directoryContent `json:"content"`
		}
		if raw := events[typ]; raw != nil {
			_ = json.Unmarshal(raw, &ev) // stored events are valid JSON; a wrong field type leaves it empty
		}
		return ev.Content
	}
	p.RoomType = content(spec.MRoomCreate).Type
	p.Name = content(spec.MRoomName).Name
	p.Topic = content(spec.MRoomTopic).Topic
	p.CanonicalAlias = content(spec.MRoomCanonicalAlias).Alias
	p.AvatarURL = content("m.room.avatar").URL
	p.JoinRule = content(spec.MRoomJoinRules).JoinRule
	p.WorldReadable = content(spec.MRoomHistoryVisibility).HistoryVisibility == "world_readable"
	p.GuestCanJoin = content(spec.MRoomGuestAccess).GuestAccess == "can_join"
}

// matches applies the filter: term (lower case) is a substring of the
// name, topic or canonical alias, and the room type is one of types.
func (p *publicRoom) matches(term string, types []*string) bool {
	if term != "" && !strings.Contains(strings.ToLower(p.Name), term) &&
		!strings.Contains(strings.ToLower(p.Topic), term) && !strings.Contains(strings.ToLower(p.CanonicalAlias), term) {
		return false
	}
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		if (t == nil && p.RoomType == "") || (t != nil && *t == p.RoomType) {
			return true
		}
	}
	return false
}

// Directory pagination tokens are offsets into the ordered, filtered list,
// opaque to clients.
func directoryToken(offset int) string { return "d" + strconv.Itoa(offset) }

func parseDirectoryToken(token string) (int, bool) {
	rest, found := strings.CutPrefix(token, "d")
	n, err := strconv.Atoi(rest)
	return n, found && err == nil && n >= 0
}

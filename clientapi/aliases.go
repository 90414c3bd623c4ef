package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// maxAliasLength is the spec's limit on a whole room alias, sigil and
// server name included (appendices, Room Aliases).
const maxAliasLength = 255

// aliasServer checks a room alias against the grammar #localpart:server
// (a non-empty localpart without ':', NUL or white space, a valid server
// name, at most 255 bytes in all) and returns its server name.
func aliasServer(alias string) (string, error) {
	if len(alias) > maxAliasLength {
		return "", mxerr.InvalidParam("room alias is longer than %d bytes", maxAliasLength)
	}
	local, server, found := strings.Cut(strings.TrimPrefix(alias, "#"), ":")
	switch {
	case !strings.HasPrefix(alias, "#") || !found || local == "":
		return "", mxerr.InvalidParam("room alias must have the form #localpart:server")
	case strings.ContainsFunc(local, func(c rune) bool { return c == 0 || unicode.IsSpace(c) }):
		return "", mxerr.InvalidParam("room alias localpart must not contain white space")
	}
	if _, _, ok := spec.ParseAndValidateServerName(spec.ServerName(server)); !ok {
		return "", mxerr.InvalidParam("room alias has an invalid server name")
	}
	return server, nil
}

// localAlias checks that alias is well-formed and on this server.
func (a *API) localAlias(alias string) error {
	server, err := aliasServer(alias)
	if err != nil {
		return err
	}
	if server != a.cfg.ServerName {
		return mxerr.InvalidParam("room alias must be on server %s", a.cfg.ServerName)
	}
	return nil
}

// aliasFromName is the alias createRoom's room_alias_name asks for.
func (a *API) aliasFromName(name string) (string, error) {
	alias := "#" + name + ":" + a.cfg.ServerName
	return alias, a.localAlias(alias)
}

func roomInUse(alias string) error {
	return mxerr.New(http.StatusConflict, "M_ROOM_IN_USE", "room alias %s is already in use", alias)
}

// resolveAlias returns the room of a local alias. Aliases of other servers
// are not resolved (no federation query yet): they are not found.
func (a *API) resolveAlias(ctx context.Context, alias string) (string, error) {
	server, err := aliasServer(alias)
	if err != nil {
		return "", err
	}
	if server != a.cfg.ServerName {
		return "", mxerr.NotFound("room alias %s is not known to this server", alias)
	}
	found, err := a.db.RoomAlias(ctx, alias)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && found.RoomID == "") {
		return "", mxerr.NotFound("room alias %s not found", alias)
	}
	return found.RoomID, err
}

// putRoomAlias is PUT /_matrix/client/v3/directory/room/{roomAlias}
// (client-server API, Room aliases): a joined member maps a new local alias
// to the room.
func (a *API) putRoomAlias(w http.ResponseWriter, r *http.Request, s *Session) error {
	alias := r.PathValue("roomAlias")
	if err := a.localAlias(alias); err != nil {
		return err
	}
	var req struct {
		RoomID string `json:"room_id"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.RoomID == "" {
		return mxerr.BadJSON("room_id is required")
	}
	if !validRoomID(req.RoomID) {
		return mxerr.InvalidParam("invalid room id")
	}
	membership, err := a.rooms.Membership(r.Context(), req.RoomID, s.UserID)
	if err != nil {
		return roomError(err)
	}
	if membership != spec.Join {
		return mxerr.Forbidden("you are not in this room")
	}
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.InsertRoomAlias(ctx, alias, req.RoomID, s.UserID)
	})
	if errors.Is(err, storage.ErrExists) {
		return roomInUse(alias)
	}
	if err != nil {
		return err
	}
	return ok(w, empty)
}

// getRoomAlias is GET /_matrix/client/v3/directory/room/{roomAlias}
// (client-server API, Room aliases).
func (a *API) getRoomAlias(w http.ResponseWriter, r *http.Request) error {
	roomID, err := a.resolveAlias(r.Context(), r.PathValue("roomAlias"))
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"room_id": roomID, "servers": []string{a.cfg.ServerName}})
}

// deleteRoomAlias is DELETE /_matrix/client/v3/directory/room/{roomAlias}
// (client-server API, Room aliases): the alias's creator, a server
// administrator, or a member with the power to send m.room.canonical_alias
// removes it. The room's m.room.canonical_alias event is left as it is.
func (a *API) deleteRoomAlias(w http.ResponseWriter, r *http.Request, s *Session) error {
	alias := r.PathValue("roomAlias")
	if err := a.localAlias(alias); err != nil {
		return err
	}
	found, err := a.db.RoomAlias(r.Context(), alias)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("room alias %s not found", alias)
	}
	if err != nil {
		return err
	}
	allowed := found.Creator == s.UserID || s.IsAdmin
	if !allowed && found.RoomID != "" {
		if allowed, err = a.maySetCanonicalAlias(r.Context(), found.RoomID, s.UserID); err != nil {
			return roomError(err)
		}
	}
	if !allowed {
		return mxerr.Forbidden("only the alias's creator or a room moderator may delete it")
	}
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.DeleteRoomAlias(ctx, alias)
	})
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("room alias %s not found", alias)
	}
	if err != nil {
		return err
	}
	if found.RoomID != "" {
		a.dropCanonicalAlias(r.Context(), found.RoomID, s.UserID, alias)
	}
	return ok(w, empty)
}

// dropCanonicalAlias removes a deleted alias from the room's
// m.room.canonical_alias, if it names it, so that clients stop showing it.
// The deletion stands if the user may not change the event.
func (a *API) dropCanonicalAlias(ctx context.Context, roomID, userID, alias string) {
	ev, err := a.rooms.StateEvent(ctx, roomID, spec.MRoomCanonicalAlias, "")
	if err != nil {
		return
	}
	var content map[string]any
	if json.Unmarshal(ev.Content(), &content) != nil {
		return
	}
	changed := false
	if content["alias"] == alias {
		delete(content, "alias")
		changed = true
	}
	if alts, ok := content["alt_aliases"].([]any); ok {
		kept := alts[:0]
		for _, alt := range alts {
			if alt != alias {
				kept = append(kept, alt)
			}
		}
		changed = changed || len(kept) != len(alts)
		content["alt_aliases"] = kept
	}
	if !changed {
		return
	}
	raw, _ := json.Marshal(content)
	if _, err := a.rooms.Send(ctx, roomserver.Proto{RoomID: roomID, Sender: userID, Type: spec.MRoomCanonicalAlias,
		StateKey: new(string), Content: raw}); err != nil {
		logctx.From(ctx).WithError(err).WithField(logctx.FieldRoomID, roomID).Warn("update canonical alias after delete")
	}
}

// getRoomAliases is GET /_matrix/client/v3/rooms/{roomId}/aliases
// (client-server API, Room aliases): the local aliases of a room, for its
// joined members, or anyone if the room is world-readable.
func (a *API) getRoomAliases(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	if !validRoomID(roomID) {
		return mxerr.InvalidParam("invalid room id")
	}
	membership, err := a.rooms.Membership(r.Context(), roomID, s.UserID)
	if err != nil {
		return roomError(err)
	}
	if membership != spec.Join && !a.worldReadable(r, roomID) {
		return mxerr.Forbidden("you are not in this room")
	}
	aliases, err := a.db.RoomAliases(r.Context(), roomID)
	if err != nil {
		return err
	}
	if aliases == nil {
		aliases = []string{}
	}
	return ok(w, map[string]any{"aliases": aliases})
}

// maySetCanonicalAlias reports whether the user could send the room's
// m.room.canonical_alias event: it is joined and has the power level the
// event needs, or is a creator in a room version whose creators have
// unlimited power. This guards what the room's directory entries say.
func (a *API) maySetCanonicalAlias(ctx context.Context, roomID, userID string) (bool, error) {
	membership, err := a.rooms.Membership(ctx, roomID, userID)
	if err != nil || membership != spec.Join {
		return false, err
	}
	create, err := a.rooms.StateEvent(ctx, roomID, spec.MRoomCreate, "")
	if err != nil {
		return false, err
	}
	version, err := gmsl.GetRoomVersion(create.Version())
	if err != nil {
		return false, err
	}
	if version.PrivilegedCreators() && slices.Contains(gmsl.CreatorsFromCreateEvent(create), userID) {
		return true, nil
	}
	var levels gmsl.PowerLevelContent
	plEvent, err := a.rooms.StateEvent(ctx, roomID, spec.MRoomPowerLevels, "")
	switch {
	case errors.Is(err, roomserver.ErrEventNotFound):
		// The auth rules without power levels: the creator has them all.
		levels.Defaults()
		levels.Users = map[string]int64{string(create.SenderID()): 100}
	case err != nil:
		return false, err
	default:
		if levels, err = gmsl.NewPowerLevelContentFromEvent(plEvent); err != nil {
			return false, err
		}
	}
	return levels.UserLevel(spec.SenderID(userID)) >= levels.EventLevel(spec.MRoomCanonicalAlias, true), nil
}

// checkCanonicalAlias checks the aliases of an m.room.canonical_alias
// event: each well formed (M_INVALID_PARAM), and each of this server
// pointing at the room (M_BAD_ALIAS). Aliases of other servers cannot be
// checked until federation can ask them.
func (a *API) checkCanonicalAlias(ctx context.Context, roomID string, content []byte) error {
	var c struct {
		Alias      *string  `json:"alias"`
		AltAliases []string `json:"alt_aliases"`
	}
	if err := json.Unmarshal(content, &c); err != nil {
		return mxerr.BadJSON("alias must be a string and alt_aliases a list of strings")
	}
	aliases := c.AltAliases
	if c.Alias != nil && *c.Alias != "" {
		aliases = append(aliases, *c.Alias)
	}
	for _, alias := range aliases {
		server, err := aliasServer(alias)
		if err != nil {
			return err
		}
		if server != a.cfg.ServerName {
			continue
		}
		found, err := a.resolveAlias(ctx, alias)
		if err != nil || found != roomID {
			return mxerr.New(http.StatusBadRequest, "M_BAD_ALIAS", "%s does not point at this room", alias)
		}
	}
	return nil
}

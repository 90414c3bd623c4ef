package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
)

// roomError maps roomserver errors to Matrix errors. A room the server does
// not know answers like a room the user is not in, so that room ids cannot
// be probed.
func roomError(err error) error {
	var (
		notAllowed  *roomserver.NotAllowedError
		badEvent    *roomserver.BadEventError
		unsupported *roomserver.UnsupportedVersionError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, roomserver.ErrRoomNotFound):
		return mxerr.Forbidden("you are not in this room")
	case errors.Is(err, roomserver.ErrEventNotFound):
		return mxerr.NotFound("event not found")
	case errors.As(err, &notAllowed):
		return mxerr.Forbidden("%s", notAllowed.Reason)
	case errors.As(err, &badEvent) && badEvent.TooBig:
		return mxerr.TooLarge("%s", badEvent.Reason)
	case errors.As(err, &badEvent) && badEvent.BadJSON:
		return mxerr.BadJSON("%s", badEvent.Reason)
	case errors.As(err, &badEvent):
		return mxerr.InvalidParam("%s", badEvent.Reason)
	case errors.As(err, &unsupported):
		return mxerr.New(http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION", "%s", unsupported.Error())
	}
	return err
}

type createRoomRequest struct {
	Visibility                string              `json:"visibility"`
	RoomAliasName             string              `json:"room_alias_name"`
	Name                      *string             `json:"name"`
	Topic                     *string             `json:"topic"`
	Invite                    []string            `json:"invite"`
	RoomVersion               string              `json:"room_version"`
	CreationContent           json.RawMessage     `json:"creation_content"`
	InitialState              []initialStateEvent `json:"initial_state"`
	Preset                    string              `json:"preset"`
	IsDirect                  bool                `json:"is_direct"`
	PowerLevelContentOverride json.RawMessage     `json:"power_level_content_override"`
}

type initialStateEvent struct {
	Type     string          `json:"type"`
	StateKey string          `json:"state_key"`
	Content  json.RawMessage `json:"content"`
}

// createRoom is POST /_matrix/client/v3/createRoom.
func (a *API) createRoom(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req createRoomRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	rreq, err := a.checkCreateRoom(r.Context(), s, req)
	if err != nil {
		return err
	}
	roomID, err := a.createListedRoom(r.Context(), rreq, req.Visibility == visibilityPublic)
	if err != nil {
		return roomError(err)
	}
	a.carryFromPredecessor(r.Context(), s, roomID) // a client upgrading a room by hand
	return ok(w, map[string]string{"room_id": roomID})
}

// checkCreateRoom validates a createRoom request and turns it into the
// roomserver's request.
func (a *API) checkCreateRoom(ctx context.Context, s *Session, req createRoomRequest) (roomserver.CreateRequest, error) {
	out := roomserver.CreateRequest{
		Creator: s.UserID, Version: req.RoomVersion, Name: req.Name, Topic: req.Topic,
		IsDirect: req.IsDirect, Invites: req.Invite,
	}
	switch req.Visibility {
	case "", "private", "public":
	default:
		return out, mxerr.InvalidParam("visibility must be public or private")
	}
	out.Preset = req.Preset
	switch req.Preset {
	case "":
		out.Preset = roomserver.PresetPrivate
		if req.Visibility == "public" {
			out.Preset = roomserver.PresetPublic
		}
	case roomserver.PresetPrivate, roomserver.PresetPublic, roomserver.PresetTrustedPrivate:
	default:
		return out, mxerr.InvalidParam("unknown preset %q", req.Preset)
	}
	if req.RoomVersion != "" && !roomserver.SupportedVersion(req.RoomVersion) {
		return out, mxerr.New(http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION", "room version %q is not supported", req.RoomVersion)
	}
	for name, raw := range map[string]json.RawMessage{
		"creation_content": req.CreationContent, "power_level_content_override": req.PowerLevelContentOverride,
	} {
		if len(raw) > 0 && string(raw) != "null" && raw[0] != '{' {
			return out, mxerr.BadJSON("%s must be an object", name)
		}
	}
	out.CreationContent, out.PowerLevels = req.CreationContent, req.PowerLevelContentOverride
	for _, invitee := range req.Invite {
		if _, err := spec.NewUserID(invitee, true); err != nil {
			return out, mxerr.InvalidParam("invalid user id in invite: %q", invitee)
		}
	}
	for _, st := range req.InitialState {
		if st.Type == "" || len(st.Content) == 0 || st.Content[0] != '{' {
			return out, mxerr.BadJSON("initial_state events need a type and an object content")
		}
		out.InitialState = append(out.InitialState, roomserver.StateEvent{Type: st.Type, StateKey: st.StateKey, Content: st.Content})
	}
	if req.RoomAliasName != "" {
		// Reserved by createListedRoom, after every other check.
		alias, err := a.aliasFromName(req.RoomAliasName)
		if err != nil {
			return out, err
		}
		out.Alias = alias
	}
	member, err := a.memberContent(ctx, s.Localpart, spec.Join, "")
	if err != nil {
		return out, err
	}
	out.CreatorMember = member
	return out, nil
}

// memberContent is the content of a membership event for a local user:
// the membership, the user's display name and avatar, and a reason.
func (a *API) memberContent(ctx context.Context, localpart, membership, reason string) (json.RawMessage, error) {
	content := map[string]any{"membership": membership}
	if reason != "" {
		content["reason"] = reason
	}
	if membership == spec.Join || membership == spec.Invite {
		p, err := a.db.Profile(ctx, localpart)
		if err == nil {
			if p.DisplayName != nil {
				content["displayname"] = *p.DisplayName
			}
			if p.AvatarURL != nil {
				content["avatar_url"] = *p.AvatarURL
			}
		}
	}
	return json.Marshal(content)
}

// joinRoomByID is POST /_matrix/client/v3/rooms/{roomId}/join.
func (a *API) joinRoomByID(w http.ResponseWriter, r *http.Request, s *Session) error {
	return a.join(w, r, s, r.PathValue("roomId"))
}

// joinRoom is POST /_matrix/client/v3/join/{roomIdOrAlias}.
func (a *API) joinRoom(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID, err := a.resolveRoom(r, r.PathValue("roomIdOrAlias"))
	if err != nil {
		return err
	}
	return a.join(w, r, s, roomID)
}

// resolveRoom turns a room id or a local alias into a room id.
func (a *API) resolveRoom(r *http.Request, target string) (string, error) {
	if strings.HasPrefix(target, "#") {
		return a.resolveAlias(r.Context(), target)
	}
	if !validRoomID(target) {
		return "", mxerr.InvalidParam("invalid room id or alias")
	}
	return target, nil
}

func (a *API) join(w http.ResponseWriter, r *http.Request, s *Session, roomID string) error {
	var req map[string]json.RawMessage
	if err := a.decode(r, &req); err != nil {
		return err
	}
	var reason string
	if raw, ok := req["reason"]; ok && json.Unmarshal(raw, &reason) != nil {
		return mxerr.BadJSON("reason must be a string")
	}
	if !validRoomID(roomID) {
		return mxerr.InvalidParam("invalid room id")
	}
	content, err := a.memberContent(r.Context(), s.Localpart, spec.Join, reason)
	if err != nil {
		return err
	}
	via, err := a.rooms.JoinAuthoriser(r.Context(), roomID, s.UserID)
	if err != nil && !errors.Is(err, roomserver.ErrRoomNotFound) {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(content, &m); err != nil {
		return fmt.Errorf("read member content: %w", err)
	}
	for k, v := range req { // custom content, as Synapse keeps it
		if _, set := m[k]; !set && k != "third_party_signed" && k != "join_authorised_via_users_server" {
			m[k] = v
		}
	}
	if via != "" { // a restricted room the user may join through another room
		m["join_authorised_via_users_server"] = via
	}
	if content, err = json.Marshal(m); err != nil {
		return fmt.Errorf("encode member content: %w", err)
	}
	if err := a.sendOwnMembership(r.Context(), s, roomID, content); err != nil {
		return err
	}
	a.unforget(r.Context(), s.UserID, roomID)
	a.carryFromPredecessor(r.Context(), s, roomID)
	return ok(w, map[string]string{"room_id": roomID})
}

// sendOwnMembership sends the requester's member event with content to a
// room (a join or a knock), as a Matrix error if it fails.
func (a *API) sendOwnMembership(ctx context.Context, s *Session, roomID string, content json.RawMessage) error {
	_, err := a.rooms.Send(ctx, roomserver.Proto{
		RoomID: roomID, Sender: s.UserID, Type: spec.MRoomMember, StateKey: &s.UserID, Content: content,
	})
	if errors.Is(err, roomserver.ErrRoomNotFound) {
		return mxerr.NotFound("room %s is not known to this server", roomID)
	}
	if err != nil {
		return roomError(err)
	}
	return nil
}

// knockRoom is POST /_matrix/client/v3/knock/{roomIdOrAlias}: ask to be
// let into a room whose join rule allows knocking.
func (a *API) knockRoom(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	roomID, err := a.resolveRoom(r, r.PathValue("roomIdOrAlias"))
	if err != nil {
		return err
	}
	content, err := a.memberContent(r.Context(), s.Localpart, spec.Knock, req.Reason)
	if err != nil {
		return err
	}
	if err := a.sendOwnMembership(r.Context(), s, roomID, content); err != nil {
		return err
	}
	return ok(w, map[string]string{"room_id": roomID})
}

// leaveRoom is POST /_matrix/client/v3/rooms/{roomId}/leave.
func (a *API) leaveRoom(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	return a.setMembership(w, r, s, s.UserID, spec.Leave, req.Reason)
}

// membershipOf is POST /_matrix/client/v3/rooms/{roomId}/invite, /kick,
// /ban and /unban: the sender changes another user's membership.
func (a *API) membershipOf(membership string) userFunc {
	return func(w http.ResponseWriter, r *http.Request, s *Session) error {
		var req struct {
			UserID string `json:"user_id"`
			Reason string `json:"reason"`
		}
		if err := a.decode(r, &req); err != nil {
			return err
		}
		if req.UserID == "" {
			return mxerr.MissingParam("user_id is required")
		}
		if _, err := spec.NewUserID(req.UserID, true); err != nil {
			return mxerr.InvalidParam("invalid user id %q", req.UserID)
		}
		target := membership
		if membership == spec.Leave { // a kick
			current, err := a.rooms.Membership(r.Context(), r.PathValue("roomId"), req.UserID)
			if err != nil {
				return roomError(err)
			}
			if current != spec.Join && current != spec.Invite && current != spec.Knock {
				return mxerr.Forbidden("%s is not in the room", req.UserID)
			}
		}
		if membership == "unban" {
			current, err := a.rooms.Membership(r.Context(), r.PathValue("roomId"), req.UserID)
			if err != nil {
				return roomError(err)
			}
			if current != spec.Ban {
				return mxerr.Forbidden("%s is not banned", req.UserID)
			}
			target = spec.Leave
		}
		return a.setMembership(w, r, s, req.UserID, target, req.Reason)
	}
}

// setMembership sends a membership event for target.
func (a *API) setMembership(w http.ResponseWriter, r *http.Request, s *Session, target, membership, reason string) error {
	var (
		content json.RawMessage
		err     error
	)
	if localpart, local := a.localpartOf(target); local && membership == spec.Invite {
		content, err = a.memberContent(r.Context(), localpart, membership, reason)
	} else {
		content, err = a.memberContent(r.Context(), "", membership, reason)
	}
	if err != nil {
		return err
	}
	_, err = a.rooms.Send(r.Context(), roomserver.Proto{
		RoomID: r.PathValue("roomId"), Sender: s.UserID, Type: spec.MRoomMember, StateKey: &target, Content: content,
	})
	if err != nil {
		return roomError(err)
	}
	return ok(w, empty)
}

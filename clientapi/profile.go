package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/clientapi/media"
	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// Profile fields.
const (
	fieldDisplayName = "displayname"
	fieldAvatarURL   = "avatar_url"
)

// maxProfileFieldLength bounds a display name or avatar URL, in characters.
const maxProfileFieldLength = 256

// profileJSON is a profile as the API returns it: unset fields are absent.
func profileJSON(p storage.Profile) map[string]string {
	out := map[string]string{}
	if p.DisplayName != nil {
		out[fieldDisplayName] = *p.DisplayName
	}
	if p.AvatarURL != nil {
		out[fieldAvatarURL] = *p.AvatarURL
	}
	return out
}

// loadProfile returns the profile of a local user, or M_NOT_FOUND (also for
// users on other servers until federation queries them).
func (a *API) loadProfile(ctx context.Context, userID string) (storage.Profile, error) {
	localpart, local := a.localpartOf(userID)
	if !strings.HasPrefix(userID, "@") || !local {
		return storage.Profile{}, mxerr.NotFound("profile not found")
	}
	p, err := a.db.Profile(ctx, localpart)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Profile{}, mxerr.NotFound("profile not found")
	}
	return p, err
}

// getProfile is GET /_matrix/client/v3/profile/{userId}.
func (a *API) getProfile(w http.ResponseWriter, r *http.Request) error {
	p, err := a.loadProfile(r.Context(), r.PathValue("userId"))
	if err != nil {
		return err
	}
	return ok(w, profileJSON(p))
}

// getProfileField is GET /_matrix/client/v3/profile/{userId}/displayname
// and .../avatar_url.
func (a *API) getProfileField(w http.ResponseWriter, r *http.Request) error {
	field := r.PathValue("field")
	if field != fieldDisplayName && field != fieldAvatarURL {
		return mxerr.Unrecognized(http.StatusNotFound, "unknown profile field")
	}
	p, err := a.loadProfile(r.Context(), r.PathValue("userId"))
	if err != nil {
		return err
	}
	value, set := profileJSON(p)[field]
	if !set {
		return mxerr.NotFound("%s is not set", field)
	}
	return ok(w, map[string]string{field: value})
}

// putProfileField is PUT /_matrix/client/v3/profile/{userId}/displayname
// and .../avatar_url (client-server API, "Profiles"). The spec requires a
// string for displayname and an MXC URI for avatar_url: any other
// avatar_url is refused with M_INVALID_PARAM. An empty or null value
// removes the field.
func (a *API) putProfileField(w http.ResponseWriter, r *http.Request, s *Session) error {
	field := r.PathValue("field")
	if field != fieldDisplayName && field != fieldAvatarURL {
		return mxerr.Unrecognized(http.StatusNotFound, "unknown profile field")
	}
	if _, err := a.ownLocalpart(s, r.PathValue("userId")); err != nil {
		return err
	}
	var body map[string]json.RawMessage
	if err := a.decode(r, &body); err != nil {
		return err
	}
	raw, present := body[field]
	if !present {
		return mxerr.MissingParam("%s is required", field)
	}
	var value *string
	if err := json.Unmarshal(raw, &value); err != nil {
		return mxerr.BadJSON("%s must be a string", field)
	}
	if value != nil && *value == "" {
		value = nil
	}
	if value != nil {
		if utf8.RuneCountInString(*value) > maxProfileFieldLength {
			return mxerr.InvalidParam("%s is longer than %d characters", field, maxProfileFieldLength)
		}
		if field == fieldAvatarURL {
			if _, _, err := media.ParseMXC(*value); err != nil {
				return mxerr.InvalidParam("avatar_url must be an mxc:// URI: mxc://<server-name>/<media-id>")
			}
		}
	}
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		if field == fieldDisplayName {
			return tx.SetDisplayName(ctx, s.Localpart, value)
		}
		return tx.SetAvatarURL(ctx, s.Localpart, value)
	})
	if err != nil {
		return err
	}
	a.propagateProfile(r.Context(), s, field, value)
	return ok(w, empty)
}

// propagateProfile sends a new membership event with the changed profile
// field to every room the user is joined to, so that members see the new
// name or avatar. A room that refuses it (power levels) keeps the old one.
func (a *API) propagateProfile(ctx context.Context, s *Session, field string, value *string) {
	rooms, err := a.rooms.UserRooms(ctx, s.UserID, spec.Join)
	if err != nil {
		logctx.From(ctx).WithError(err).Warn("list rooms for a profile change")
		return
	}
	for _, roomID := range rooms {
		member, err := a.rooms.StateEvent(ctx, roomID, spec.MRoomMember, s.UserID)
		if err != nil {
			continue
		}
		var content map[string]any
		if json.Unmarshal(member.Content(), &content) != nil {
			continue
		}
		if value == nil {
			delete(content, field)
		} else {
			content[field] = *value
		}
		raw, _ := json.Marshal(content)
		if _, err := a.rooms.Send(ctx, roomserver.Proto{
			RoomID: roomID, Sender: s.UserID, Type: spec.MRoomMember, StateKey: &s.UserID, Content: raw,
		}); err != nil {
			logctx.From(ctx).WithError(err).WithField(logctx.FieldRoomID, roomID).Warn("send profile change to room")
		}
	}
}

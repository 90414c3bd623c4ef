package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// upgradeRoom is POST /_matrix/client/v3/rooms/{roomId}/upgrade: the room
// is replaced by a new one of the requested version, and its local aliases
// move along.
func (a *API) upgradeRoom(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		NewVersion         string   `json:"new_version"`
		AdditionalCreators []string `json:"additional_creators"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.NewVersion == "" {
		return mxerr.MissingParam("new_version is required")
	}
	for _, u := range req.AdditionalCreators {
		if _, err := spec.NewUserID(u, true); err != nil {
			return mxerr.InvalidParam("invalid user id in additional_creators: %q", u)
		}
	}
	roomID := r.PathValue("roomId")
	if err := a.requireJoined(r, s, roomID); err != nil {
		return err
	}
	member, err := a.memberContent(r.Context(), s.Localpart, spec.Join, "")
	if err != nil {
		return err
	}
	newRoom, err := a.rooms.Upgrade(r.Context(), roomserver.UpgradeRequest{RoomID: roomID, UserID: s.UserID,
		NewVersion: req.NewVersion, CreatorMember: member, AdditionalCreators: req.AdditionalCreators})
	if err != nil {
		return roomError(err)
	}
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.MoveRoomAliases(ctx, roomID, newRoom)
	})
	if err != nil {
		return err
	}
	a.carryPushRules(r.Context(), s.UserID, roomID, newRoom)
	a.carryTags(r.Context(), s.Localpart, roomID, newRoom)
	return ok(w, map[string]string{"replacement_room": newRoom})
}

// carryPushRules gives a user who joined the room to, the upgrade of the
// room from, its push rules for from. The join stands whatever happens
// here, so a failure is logged, not returned.
func (a *API) carryPushRules(ctx context.Context, userID, from, to string) {
	added, err := a.push.CopyRoomRules(ctx, userID, from, to)
	if err != nil {
		a.log.WithError(err).WithField(logctx.FieldRoomID, to).Warn("carry push rules over a room upgrade")
	}
	if added {
		a.notifier.Wake(userID)
	}
}

// carryFromPredecessor gives a user who joined or created a room that
// replaces another (its create event names a predecessor) its push rules
// and tags for the old room (client-server API, "Room Upgrades": the
// server transfers the user's personal settings).
func (a *API) carryFromPredecessor(ctx context.Context, s *Session, roomID string) {
	prev, err := a.predecessor(ctx, roomID)
	if err != nil {
		a.log.WithError(err).WithField(logctx.FieldRoomID, roomID).Warn("read the joined room's predecessor")
		return
	}
	if prev != "" {
		a.carryPushRules(ctx, s.UserID, prev, roomID)
		a.carryTags(ctx, s.Localpart, prev, roomID)
	}
}

// carryTags gives a user who joined the room to, the upgrade of the room
// from, its tags on from, unless it tagged to already (the spec's room
// upgrades: personal settings such as tags are carried over). The join
// stands whatever happens here, so a failure is logged, not returned.
func (a *API) carryTags(ctx context.Context, localpart, from, to string) {
	tags, err := a.db.AccountData(ctx, localpart, from, tagType)
	if errors.Is(err, storage.ErrNotFound) {
		return
	}
	if err == nil {
		err = a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			_, err := tx.UpdateAccountData(ctx, localpart, to, tagType, func(old json.RawMessage) (json.RawMessage, error) {
				if old != nil {
					return nil, errUnchanged
				}
				return tags, nil
			})
			return err
		})
	}
	if err != nil && !errors.Is(err, errUnchanged) {
		a.log.WithError(err).WithField(logctx.FieldRoomID, to).Warn("carry room tags over a room upgrade")
	}
}

// predecessor returns the room that roomID replaced by an upgrade, or "".
func (a *API) predecessor(ctx context.Context, roomID string) (string, error) {
	create, err := a.rooms.StateEvent(ctx, roomID, spec.MRoomCreate, "")
	if err != nil {
		return "", err
	}
	var content struct {
		Predecessor *struct {
			RoomID string `json:"room_id"`
		} `json:"predecessor"`
	}
	if json.Unmarshal(create.Content(), &content) != nil || content.Predecessor == nil {
		return "", nil
	}
	return content.Predecessor.RoomID, nil
}

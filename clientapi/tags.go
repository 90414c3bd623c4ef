package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Room tags are the per-room account data of type m.tag, {"tags": {...}},
// so that /sync delivers them with the rest of the account data.
const tagType = "m.tag"

// maxTagLength is the spec's limit on a tag name (Room tagging).
const maxTagLength = 255

// tagTarget reads and checks the path of a tag request: the requester's own
// user id, a well-formed room id, and (for one tag) its name.
func (a *API) tagTarget(r *http.Request, s *Session, withTag bool) (roomID, tag string, err error) {
	if _, err := a.ownLocalpart(s, r.PathValue("userId")); err != nil {
		return "", "", err
	}
	roomID = r.PathValue("roomId")
	if !validRoomID(roomID) {
		return "", "", mxerr.InvalidParam("invalid room id")
	}
	tag = r.PathValue("tag")
	if withTag && (tag == "" || len(tag) > maxTagLength) {
		return "", "", mxerr.InvalidParam("a tag name is 1 to %d bytes", maxTagLength)
	}
	return roomID, tag, nil
}

// tagsContent is the m.tag content; other top-level keys are kept as they
// are.
type tagsContent map[string]json.RawMessage

// tags returns the tags of an m.tag content (nil content: none).
func (c tagsContent) tags() map[string]json.RawMessage {
	tags := map[string]json.RawMessage{}
	if raw, found := c["tags"]; found {
		_ = json.Unmarshal(raw, &tags) // content written by other clients may be anything
	}
	return tags
}

// getTags is GET /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags
// (client-server API, Room tagging).
func (a *API) getTags(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID, _, err := a.tagTarget(r, s, false)
	if err != nil {
		return err
	}
	raw, err := a.db.AccountData(r.Context(), s.Localpart, roomID, tagType)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	var content tagsContent
	if raw != nil {
		_ = json.Unmarshal(raw, &content)
	}
	return ok(w, map[string]any{"tags": content.tags()})
}

// putTag is PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
// (client-server API, Room tagging): the body is the tag's object, whose
// order, if any, is a number.
func (a *API) putTag(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID, tag, err := a.tagTarget(r, s, true)
	if err != nil {
		return err
	}
	body, err := a.readBody(r)
	if err != nil {
		return err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return mxerr.BadJSON("a tag must be a JSON object")
	}
	if order, found := fields["order"]; found {
		var n float64
		if err := json.Unmarshal(order, &n); err != nil {
			return mxerr.BadJSON("order must be a number")
		}
	}
	return a.updateTags(w, r, s, roomID, func(tags map[string]json.RawMessage) bool {
		tags[tag] = body
		return true
	})
}

// deleteTag is DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
// (client-server API, Room tagging). Removing a tag the room does not have
// succeeds and changes nothing.
func (a *API) deleteTag(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID, tag, err := a.tagTarget(r, s, true)
	if err != nil {
		return err
	}
	return a.updateTags(w, r, s, roomID, func(tags map[string]json.RawMessage) bool {
		_, found := tags[tag]
		delete(tags, tag)
		return found
	})
}

// errUnchanged rolls back a tag update that changes nothing, so that sync
// does not see a new position.
var errUnchanged = errors.New("tags unchanged")

// updateTags changes the room's tags with change (which reports whether it
// changed anything) in one transaction.
func (a *API) updateTags(w http.ResponseWriter, r *http.Request, s *Session, roomID string,
	change func(tags map[string]json.RawMessage) bool) error {
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		_, err := tx.UpdateAccountData(ctx, s.Localpart, roomID, tagType, func(old json.RawMessage) (json.RawMessage, error) {
			content := tagsContent{}
			if old != nil {
				_ = json.Unmarshal(old, &content)
				if content == nil {
					content = tagsContent{}
				}
			}
			tags := content.tags()
			if !change(tags) {
				return nil, errUnchanged
			}
			raw, err := json.Marshal(tags)
			if err != nil {
				return nil, err
			}
			content["tags"] = raw
			return json.Marshal(content)
		})
		return err
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		return err
	}
	return ok(w, empty)
}

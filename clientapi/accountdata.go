package clientapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi/push"
)

// serverControlled lists account data types that clients cannot set through
// the account data API: by room_id "" (global) or a room.
func serverControlled(roomID, typ string) bool {
	if roomID == "" {
		return typ == "m.push_rules"
	}
	return typ == "m.fully_read"
}

// accountDataTarget reads and checks the path of an account data request:
// the user must be the requester, the room id (if any) well-formed.
func (a *API) accountDataTarget(r *http.Request, s *Session) (roomID, typ string, err error) {
	if _, err := a.ownLocalpart(s, r.PathValue("userId")); err != nil {
		return "", "", err
	}
	roomID = r.PathValue("roomId") // "" on the global routes: wildcards never match ""
	if roomID != "" && !validRoomID(roomID) {
		return "", "", mxerr.InvalidParam("invalid room id")
	}
	typ = r.PathValue("type")
	if typ == "" || len(typ) > 255 {
		return "", "", mxerr.InvalidParam("invalid account data type")
	}
	return roomID, typ, nil
}

// getAccountData is GET /_matrix/client/v3/user/{userId}/account_data/{type}
// and its per-room form.
func (a *API) getAccountData(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID, typ, err := a.accountDataTarget(r, s)
	if err != nil {
		return err
	}
	content, err := a.db.AccountData(r.Context(), s.Localpart, roomID, typ)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("no account data of type %s", typ)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(content)
	return err
}

// putAccountData is PUT /_matrix/client/v3/user/{userId}/account_data/{type}
// and its per-room form. The body must be a JSON object.
func (a *API) putAccountData(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID, typ, err := a.accountDataTarget(r, s)
	if err != nil {
		return err
	}
	if serverControlled(roomID, typ) {
		return mxerr.New(http.StatusMethodNotAllowed, "M_BAD_JSON", "cannot set %s through this API", typ)
	}
	body, err := a.readBody(r)
	if err != nil {
		return err
	}
	if body[0] != '{' {
		return mxerr.BadJSON("account data must be a JSON object")
	}
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		_, err := tx.PutAccountData(ctx, s.Localpart, roomID, typ, body)
		return err
	})
	if err != nil {
		return err
	}
	if roomID == "" && typ == push.IgnoredListType {
		a.push.IgnoredListChanged(s.UserID)
	}
	a.notifier.Wake(s.UserID)
	return ok(w, empty)
}

package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi/push"
)

// Limits of POST /pushers/set.
const (
	maxAppIDChars    = 64
	maxPushKeyBytes  = 512
	maxPusherStrings = 512 // display names, profile tag, lang
)

// pusherJSON is a pusher as GET /pushers lists it.
type pusherJSON struct {
	PushKey           string          `json:"pushkey"`
	Kind              string          `json:"kind"`
	AppID             string          `json:"app_id"`
	AppDisplayName    string          `json:"app_display_name"`
	DeviceDisplayName string          `json:"device_display_name"`
	ProfileTag        string          `json:"profile_tag,omitempty"`
	Lang              string          `json:"lang"`
	Data              json.RawMessage `json:"data"`
}

// getPushers is GET /_matrix/client/v3/pushers (client-server API, Push
// Notifications: Client behaviour): the user's pushers.
func (a *API) getPushers(w http.ResponseWriter, r *http.Request, s *Session) error {
	rows, err := a.db.Pushers(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	out := make([]pusherJSON, len(rows))
	for i, p := range rows {
		out[i] = pusherJSON{
			PushKey: p.PushKey, Kind: p.Kind, AppID: p.AppID, AppDisplayName: p.AppDisplayName,
			DeviceDisplayName: p.DeviceDisplayName, ProfileTag: p.ProfileTag, Lang: p.Lang, Data: p.Data,
		}
	}
	return ok(w, map[string]any{"pushers": out})
}

// setPusherRequest is the body of POST /pushers/set. Kind stays raw to
// tell null (delete) from missing.
type setPusherRequest struct {
	Kind              json.RawMessage `json:"kind"`
	AppID             *string         `json:"app_id"`
	PushKey           *string         `json:"pushkey"`
	AppDisplayName    *string         `json:"app_display_name"`
	DeviceDisplayName *string         `json:"device_display_name"`
	ProfileTag        string          `json:"profile_tag"`
	Lang              *string         `json:"lang"`
	Data              json.RawMessage `json:"data"`
	Append            bool            `json:"append"`
}

// setPusher is POST /_matrix/client/v3/pushers/set (client-server API,
// Push Notifications: Client behaviour): creates, updates (kind set) or
// deletes (kind null) the user's pusher for an app id and pushkey. A new
// or updated pusher belongs to the requesting device.
func (a *API) setPusher(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req setPusherRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	kind, err := checkPusherKey(req)
	if err != nil {
		return err
	}
	if kind == "" {
		err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeletePusher(ctx, s.UserID, *req.AppID, *req.PushKey)
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) { // deleting nothing is done already
			return err
		}
		return ok(w, empty)
	}
	p, err := checkPusher(req, kind)
	if err != nil {
		return err
	}
	p.UserID, p.Localpart, p.DeviceID = s.UserID, s.Localpart, s.DeviceID
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.SetPusher(ctx, p, req.Append)
	})
	if err != nil {
		return err
	}
	return ok(w, empty)
}

// checkPusherKey checks the fields every request needs and returns the
// kind, "" for null.
func checkPusherKey(req setPusherRequest) (string, error) {
	if req.Kind == nil {
		return "", mxerr.MissingParam("kind is required")
	}
	if req.AppID == nil || req.PushKey == nil {
		return "", mxerr.MissingParam("app_id and pushkey are required")
	}
	if *req.AppID == "" || utf8.RuneCountInString(*req.AppID) > maxAppIDChars {
		return "", mxerr.InvalidParam("app_id must have 1 to %d characters", maxAppIDChars)
	}
	if *req.PushKey == "" || len(*req.PushKey) > maxPushKeyBytes {
		return "", mxerr.InvalidParam("pushkey must have 1 to %d bytes", maxPushKeyBytes)
	}
	if string(req.Kind) == "null" {
		return "", nil
	}
	var kind string
	if json.Unmarshal(req.Kind, &kind) != nil {
		return "", mxerr.BadJSON("kind must be a string or null")
	}
	switch kind {
	case push.KindHTTP:
		return kind, nil
	case push.KindEmail:
		return "", mxerr.InvalidParam("email pushers are not supported by this server")
	}
	return "", mxerr.InvalidParam("unknown pusher kind %q", kind)
}

// checkPusher checks the fields a pusher of kind needs and returns it,
// without its owner.
func checkPusher(req setPusherRequest, kind string) (storage.Pusher, error) {
	if req.AppDisplayName == nil || req.DeviceDisplayName == nil || req.Lang == nil || req.Data == nil {
		return storage.Pusher{}, mxerr.MissingParam("app_display_name, device_display_name, lang and data are required")
	}
	for _, v := range []string{*req.AppDisplayName, *req.DeviceDisplayName, *req.Lang, req.ProfileTag} {
		if len(v) > maxPusherStrings {
			return storage.Pusher{}, mxerr.InvalidParam("pusher strings are limited to %d bytes", maxPusherStrings)
		}
	}
	if _, err := push.ParsePusherData(req.Data); err != nil {
		return storage.Pusher{}, mxerr.InvalidParam("%s", err.Error())
	}
	return storage.Pusher{
		AppID: *req.AppID, PushKey: *req.PushKey, Kind: kind, AppDisplayName: *req.AppDisplayName,
		DeviceDisplayName: *req.DeviceDisplayName, ProfileTag: req.ProfileTag, Lang: *req.Lang, Data: req.Data,
	}, nil
}

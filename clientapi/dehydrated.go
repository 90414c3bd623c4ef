package clientapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"unicode"

	"github.com/ganglion/ganglion/clientapi/keys"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Dehydrated devices (MSC3814, unstable prefix org.matrix.msc3814.v1): a
// user keeps at most one device without access tokens whose private keys
// the client stored encrypted in device_data. Other users' clients see its
// keys and send it room keys like to any device; a later login of the user
// reads device_data and the messages and so gets the keys of messages sent
// while none of the user's devices was online. The dehydrated device is an
// ordinary device of the user otherwise: it is listed by /devices (the MSC
// does not hide it) and deleting it there deletes it here too.

const (
	// maxDehydratedEvents bounds one page of POST .../events.
	maxDehydratedEvents = 100
	// maxDeviceIDLength bounds a client-chosen device id (the MSC's is the
	// device's unpadded base64 curve25519 key: 43 characters).
	maxDeviceIDLength = 255
)

// putDehydratedRequest is the body of PUT /dehydrated_device: the device
// and its keys in the shape of POST /keys/upload.
type putDehydratedRequest struct {
	DeviceID    string          `json:"device_id"`
	DeviceData  json.RawMessage `json:"device_data"`
	DisplayName *string         `json:"initial_device_display_name"`
	keys.UploadRequest
}

// check returns the request's device_data in compact form after checking
// the fields the keys checks do not cover.
func (req *putDehydratedRequest) check() (json.RawMessage, error) {
	switch {
	case req.DeviceID == "":
		return nil, mxerr.MissingParam("device_id is required")
	case len(req.DeviceData) == 0 || string(req.DeviceData) == "null":
		return nil, mxerr.MissingParam("device_data is required")
	case req.DeviceData[0] != '{':
		return nil, mxerr.BadJSON("device_data must be an object")
	case len(req.DeviceKeys) == 0 || string(req.DeviceKeys) == "null":
		return nil, mxerr.MissingParam("device_keys is required")
	case len(req.DeviceID) > maxDeviceIDLength || slices.ContainsFunc([]rune(req.DeviceID), unicode.IsControl):
		return nil, mxerr.InvalidParam("device_id is too long or holds control characters")
	}
	var data bytes.Buffer
	if err := json.Compact(&data, req.DeviceData); err != nil {
		return nil, mxerr.BadJSON("device_data is malformed")
	}
	return data.Bytes(), nil
}

// putDehydratedDevice is PUT
// /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device (MSC3814
// "Dehydrating a device"): creates the user's dehydrated device with its
// keys, replacing the previous one with its keys and messages.
func (a *API) putDehydratedDevice(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req putDehydratedRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	data, err := req.check()
	if err != nil {
		return err
	}
	checked, err := keys.Check(s.UserID, req.DeviceID, req.UploadRequest)
	if err != nil {
		return err
	}
	var replaced []string
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		old, err := tx.DehydratedDevice(ctx, s.UserID)
		switch {
		case err == nil:
			replaced = []string{old.DeviceID}
			if err := a.removeDevices(ctx, tx, s.Localpart, replaced); err != nil {
				return err
			}
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
		ids, err := tx.DeviceIDs(ctx, s.Localpart)
		if err != nil {
			return err
		}
		if slices.Contains(ids, req.DeviceID) {
			return mxerr.InvalidParam("device %s exists and is not the dehydrated device", req.DeviceID)
		}
		if err := tx.UpsertDevice(ctx, s.Localpart, req.DeviceID, req.DisplayName, "", ""); err != nil {
			return err
		}
		if err := tx.SetDehydratedDevice(ctx, s.UserID, req.DeviceID, data); err != nil {
			return err
		}
		_, err = checked.Store(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	a.sessions.revokeDevices(s.Localpart, replaced)
	a.keys.WakeFor(checked)
	return ok(w, map[string]string{"device_id": req.DeviceID})
}

// getDehydratedDevice is GET
// /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device (MSC3814
// "Rehydrating a device").
func (a *API) getDehydratedDevice(w http.ResponseWriter, r *http.Request, s *Session) error {
	d, err := a.db.DehydratedDevice(r.Context(), s.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("no dehydrated device")
	}
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"device_id": d.DeviceID, "device_data": d.Data})
}

// deleteDehydratedDevice is DELETE
// /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device (MSC3814
// "Deleting a dehydrated device"): deletes the device with its keys and
// messages.
func (a *API) deleteDehydratedDevice(w http.ResponseWriter, r *http.Request, s *Session) error {
	var deviceID string
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		d, err := tx.DehydratedDevice(ctx, s.UserID)
		if errors.Is(err, storage.ErrNotFound) {
			return mxerr.NotFound("no dehydrated device")
		}
		if err != nil {
			return err
		}
		deviceID = d.DeviceID
		return a.removeDevices(ctx, tx, s.Localpart, []string{deviceID})
	})
	if err != nil {
		return err
	}
	a.sessions.revokeDevices(s.Localpart, []string{deviceID})
	a.notifier.WakeShared(s.UserID) // device_lists.changed
	return ok(w, map[string]string{"device_id": deviceID})
}

// dehydratedDeviceEvents is POST
// /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device/{deviceId}/events
// (MSC3814 "Rehydrating a device"): the to-device messages of the user's
// dehydrated device after next_batch, a page at a time. As the MSC asks,
// reading a page deletes nothing, so that an interrupted rehydration can
// start again; the messages go with the device when it is replaced or
// deleted.
func (a *API) dehydratedDeviceEvents(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		NextBatch string `json:"next_batch"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	var after int64
	if req.NextBatch != "" {
		var err error
		if after, err = strconv.ParseInt(req.NextBatch, 10, 64); err != nil || after < 0 {
			return mxerr.InvalidParam("next_batch is not a token of this endpoint")
		}
	}
	d, err := a.db.DehydratedDevice(r.Context(), s.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("no dehydrated device")
	}
	if err != nil {
		return err
	}
	if d.DeviceID != r.PathValue("deviceId") {
		return mxerr.Forbidden("not the user's dehydrated device")
	}
	msgs, err := a.db.ToDeviceMessages(r.Context(), s.UserID, d.DeviceID, after, math.MaxInt64, maxDehydratedEvents)
	if err != nil {
		return err
	}
	events := make([]map[string]any, len(msgs))
	next := after
	for i, m := range msgs {
		events[i] = map[string]any{"sender": m.Sender, "type": m.Type, "content": m.Content}
		next = m.StreamPos
	}
	return ok(w, map[string]any{"events": events, "next_batch": strconv.FormatInt(next, 10)})
}

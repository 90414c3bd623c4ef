package clientapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

type deviceJSON struct {
	DeviceID    string  `json:"device_id"`
	DisplayName *string `json:"display_name,omitempty"`
	LastSeenIP  string  `json:"last_seen_ip,omitempty"`
	LastSeenTS  int64   `json:"last_seen_ts,omitempty"`
}

func toDeviceJSON(d storage.Device) deviceJSON {
	return deviceJSON{DeviceID: d.ID, DisplayName: d.DisplayName, LastSeenIP: d.LastSeenIP, LastSeenTS: d.LastSeenAt.UnixMilli()}
}

// listDevices is GET /_matrix/client/v3/devices.
func (a *API) listDevices(w http.ResponseWriter, r *http.Request, s *Session) error {
	devices, err := a.db.Devices(r.Context(), s.Localpart)
	if err != nil {
		return err
	}
	out := make([]deviceJSON, len(devices))
	for i, d := range devices {
		out[i] = toDeviceJSON(d)
	}
	return ok(w, map[string]any{"devices": out})
}

// getDevice is GET /_matrix/client/v3/devices/{deviceId}.
func (a *API) getDevice(w http.ResponseWriter, r *http.Request, s *Session) error {
	d, err := a.db.Device(r.Context(), s.Localpart, r.PathValue("deviceId"))
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("unknown device")
	}
	if err != nil {
		return err
	}
	return ok(w, toDeviceJSON(d))
}

// putDevice is PUT /_matrix/client/v3/devices/{deviceId}: renames a device.
func (a *API) putDevice(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		DisplayName *string `json:"display_name"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.DisplayName == nil {
		return ok(w, empty)
	}
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.SetDeviceDisplayName(ctx, s.Localpart, r.PathValue("deviceId"), *req.DisplayName)
	})
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("unknown device")
	}
	if err != nil {
		return err
	}
	return ok(w, empty)
}

// deleteDevice is DELETE /_matrix/client/v3/devices/{deviceId}; it needs
// the user's password (user-interactive auth).
func (a *API) deleteDevice(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Auth rawAuth `json:"auth"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	id := r.PathValue("deviceId")
	if _, err := a.db.Device(r.Context(), s.Localpart, id); errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("unknown device")
	} else if err != nil {
		return err
	}
	return a.deleteDevicesUIA(w, r, s, req.Auth, []string{id})
}

// deleteDevices is POST /_matrix/client/v3/delete_devices.
func (a *API) deleteDevices(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Auth    rawAuth  `json:"auth"`
		Devices []string `json:"devices"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.Devices == nil {
		return mxerr.MissingParam("devices is required")
	}
	return a.deleteDevicesUIA(w, r, s, req.Auth, req.Devices)
}

func (a *API) deleteDevicesUIA(w http.ResponseWriter, r *http.Request, s *Session, auth rawAuth, ids []string) error {
	sess, err := a.uia(r.Context(), r, auth, a.passwordUIA(s))
	if err != nil {
		return err
	}
	if err := a.deleteDevicesOf(r.Context(), s.Localpart, ids, &sess); err != nil {
		return err
	}
	return ok(w, empty)
}

package clientapi

import (
	"context"
	"net/http"
	"slices"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// whoami is GET /_matrix/client/v3/account/whoami.
func (a *API) whoami(w http.ResponseWriter, r *http.Request, s *Session) error {
	return ok(w, map[string]any{"user_id": s.UserID, "device_id": s.DeviceID, "is_guest": s.IsGuest})
}

// logout is POST /_matrix/client/v3/logout: the token's device is deleted
// with every token it had.
func (a *API) logout(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := a.deleteDevicesOf(r.Context(), s.Localpart, []string{s.DeviceID}, nil); err != nil {
		return err
	}
	return ok(w, empty)
}

// logoutAll is POST /_matrix/client/v3/logout/all.
func (a *API) logoutAll(w http.ResponseWriter, r *http.Request, s *Session) error {
	var deleted []string
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		var err error
		deleted, err = a.deleteOtherDevices(ctx, tx, s.Localpart, "")
		return err
	})
	if err != nil {
		return err
	}
	a.otherDevicesDeleted(s.Localpart, deleted)
	return ok(w, empty)
}

// deleteDevicesOf deletes devices of a user and forgets their cached
// tokens, after consuming the UIA session that authorised it, if any.
func (a *API) deleteDevicesOf(ctx context.Context, localpart string, ids []string, sess *storage.UIASession) error {
	err := a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		if sess != nil {
			if err := consumeUIA(ctx, tx, *sess); err != nil {
				return err
			}
		}
		return a.removeDevices(ctx, tx, localpart, ids)
	})
	if err != nil {
		return err
	}
	a.sessions.revokeDevices(localpart, ids)
	a.notifier.WakeShared(a.userID(localpart)) // device_lists.changed
	return nil
}

// otherDevicesDeleted is what follows the commit of deleteOtherDevices: it
// forgets the devices' cached tokens and, if any were deleted, wakes the
// syncs that see the user's device list change.
func (a *API) otherDevicesDeleted(localpart string, ids []string) {
	a.sessions.revokeDevices(localpart, ids)
	if len(ids) > 0 {
		a.notifier.WakeShared(a.userID(localpart)) // device_lists.changed
	}
}

// removeDevices deletes devices with their tokens, keys and pending
// to-device messages, inside the caller's transaction.
func (a *API) removeDevices(ctx context.Context, tx *storage.Tx, localpart string, ids []string) error {
	if err := tx.DeleteDevices(ctx, localpart, ids); err != nil {
		return err
	}
	return tx.ForgetDevices(ctx, a.userID(localpart), ids)
}

// deleteOtherDevices deletes every device of a user except keep (may be "")
// and returns the ids it deleted.
func (a *API) deleteOtherDevices(ctx context.Context, tx *storage.Tx, localpart, keep string) ([]string, error) {
	ids, err := tx.DeviceIDs(ctx, localpart)
	if err != nil {
		return nil, err
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == keep })
	return ids, a.removeDevices(ctx, tx, localpart, ids)
}

// changePassword is POST /_matrix/client/v3/account/password.
func (a *API) changePassword(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Auth          rawAuth `json:"auth"`
		NewPassword   string  `json:"new_password"`
		LogoutDevices *bool   `json:"logout_devices"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if err := CheckNewAccount(a.cfg, "", req.NewPassword); err != nil {
		return err
	}
	if req.NewPassword == "" {
		return mxerr.MissingParam("new_password is required")
	}
	sess, err := a.uia(r.Context(), r, req.Auth, a.passwordUIA(s))
	if err != nil {
		return err
	}
	hash, err := a.passwords.Hash(req.NewPassword)
	if err != nil {
		return err
	}
	var deleted []string
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		if err := consumeUIA(ctx, tx, sess); err != nil {
			return err
		}
		if err := tx.SetPasswordHash(ctx, s.Localpart, hash); err != nil {
			return err
		}
		if req.LogoutDevices != nil && !*req.LogoutDevices {
			return nil
		}
		var err error
		deleted, err = a.deleteOtherDevices(ctx, tx, s.Localpart, s.DeviceID)
		return err
	})
	if err != nil {
		return err
	}
	a.otherDevicesDeleted(s.Localpart, deleted)
	return ok(w, empty)
}

// deactivate is POST /_matrix/client/v3/account/deactivate.
func (a *API) deactivate(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Auth  rawAuth `json:"auth"`
		Erase bool    `json:"erase"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	sess, err := a.uia(r.Context(), r, req.Auth, a.passwordUIA(s))
	if err != nil {
		return err
	}
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		if err := consumeUIA(ctx, tx, sess); err != nil {
			return err
		}
		ids, err := tx.DeviceIDs(ctx, s.Localpart)
		if err != nil {
			return err
		}
		if err := tx.DeactivateAccount(ctx, s.Localpart, req.Erase); err != nil {
			return err
		}
		return tx.ForgetDevices(ctx, s.UserID, ids)
	})
	if err != nil {
		return err
	}
	a.sessions.revokeUser(s.Localpart)
	a.notifier.WakeShared(s.UserID) // device_lists.changed
	return ok(w, map[string]string{"id_server_unbind_result": "no-support"})
}

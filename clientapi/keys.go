package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/clientapi/keys"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
)

// uploadKeys is POST /_matrix/client/v3/keys/upload.
func (a *API) uploadKeys(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req keys.UploadRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	counts, err := a.keys.Upload(r.Context(), s.UserID, s.DeviceID, req)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"one_time_key_counts": counts})
}

// queryKeys is POST /_matrix/client/v3/keys/query.
func (a *API) queryKeys(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		DeviceKeys map[string][]string `json:"device_keys"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	resp, err := a.keys.Query(r.Context(), s.UserID, req.DeviceKeys)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// claimKeys is POST /_matrix/client/v3/keys/claim.
func (a *API) claimKeys(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		OneTimeKeys map[string]map[string]string `json:"one_time_keys"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	resp, err := a.keys.Claim(r.Context(), req.OneTimeKeys)
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// uploadCrossSigning is POST /_matrix/client/v3/keys/device_signing/upload:
// the first keys need no auth, replacing them needs the password.
func (a *API) uploadCrossSigning(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		keys.DeviceSigningRequest
		Auth rawAuth `json:"auth"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	needsAuth, err := a.keys.NeedsAuth(r.Context(), s.UserID, req.DeviceSigningRequest)
	if err != nil {
		return err
	}
	if needsAuth {
		sess, err := a.uia(r.Context(), r, req.Auth, a.passwordUIA(s))
		if err != nil {
			return err
		}
		if err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
			return consumeUIA(ctx, tx, sess)
		}); err != nil {
			return err
		}
	}
	if err := a.keys.UploadCrossSigning(r.Context(), s.UserID, req.DeviceSigningRequest); err != nil {
		return err
	}
	return ok(w, empty)
}

// uploadSignatures is POST /_matrix/client/v3/keys/signatures/upload.
func (a *API) uploadSignatures(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req map[string]map[string]json.RawMessage
	if err := a.decode(r, &req); err != nil {
		return err
	}
	failures, err := a.keys.UploadSignatures(r.Context(), s.UserID, req)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"failures": failures})
}

// keyChanges is GET /_matrix/client/v3/keys/changes: users whose devices
// changed between two sync tokens.
func (a *API) keyChanges(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	from, okFrom := syncapi.ParseStreamToken(q.Get("from"))
	to, okTo := syncapi.ParseStreamToken(q.Get("to"))
	if !okFrom || !okTo {
		return mxerr.InvalidParam("from and to must be sync tokens")
	}
	lists, err := a.syncer.DeviceListChanges(r.Context(), s.UserID, from, to)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"changed": nonNil(lists.Changed), "left": nonNil(lists.Left)})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// sendToDevice is PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}:
// messages for devices of local users ("*" for all of a user's devices),
// once per transaction id. Messages for devices that do not exist are
// dropped, not kept for a device that may later take the id.
func (a *API) sendToDevice(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Messages map[string]map[string]json.RawMessage `json:"messages"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	typ := r.PathValue("eventType")
	var woken []string
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		if err := tx.InsertTxn(ctx, s.Localpart, s.DeviceID, "to_device:"+r.PathValue("txnId"), ""); err != nil {
			return err
		}
		for userID, devices := range req.Messages {
			u, err := spec.NewUserID(userID, true)
			if err != nil {
				return mxerr.InvalidParam("invalid user id %q", userID)
			}
			if string(u.Domain()) != a.cfg.ServerName {
				continue // federation delivers to other servers, once it exists
			}
			existing, err := tx.DeviceIDs(ctx, u.Local())
			if err != nil {
				return err
			}
			for deviceID, content := range devices {
				if len(content) == 0 || content[0] != '{' {
					return mxerr.BadJSON("message content must be an object")
				}
				targets := existing
				if deviceID != "*" {
					targets = nil
					if slices.Contains(existing, deviceID) {
						targets = []string{deviceID} // messages for devices that do not exist are dropped
					}
				}
				for _, target := range targets {
					if _, err := tx.AddToDeviceMessage(ctx, storage.ToDeviceMessage{
						UserID: userID, DeviceID: target, Sender: s.UserID, Type: typ, Content: content,
					}); err != nil {
						return err
					}
				}
			}
			woken = append(woken, userID)
		}
		return nil
	})
	if errors.Is(err, storage.ErrExists) {
		return ok(w, empty) // a retried transaction: already delivered
	}
	if err != nil {
		return err
	}
	a.notifier.Wake(woken...)
	return ok(w, empty)
}

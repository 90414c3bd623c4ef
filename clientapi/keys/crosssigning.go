package keys

import (
	"bytes"
	"context"
	"encoding/json"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Cross-signing key types.
const (
	keyMaster      = "master"
	keySelfSigning = "self_signing"
	keyUserSigning = "user_signing"
)

// crossSigningKey is the part of a cross-signing key object the server
// checks.
type crossSigningKey struct {
	UserID string            `json:"user_id"`
	Usage  []string          `json:"usage"`
	Keys   map[string]string `json:"keys"`
}

// DeviceSigningRequest is the body of POST /keys/device_signing/upload.
type DeviceSigningRequest struct {
	MasterKey      json.RawMessage `json:"master_key"`
	SelfSigningKey json.RawMessage `json:"self_signing_key"`
	UserSigningKey json.RawMessage `json:"user_signing_key"`
}

// NeedsAuth reports whether uploading the request's keys needs
// user-interactive auth: not for the user's first master key, nor for a
// request whose keys all equal the stored ones (a retry); for anything new
// once a master key exists (spec 1.11, MSC3967).
func (k *Keys) NeedsAuth(ctx context.Context, userID string, req DeviceSigningRequest) (bool, error) {
	existing, err := k.db.CrossSigningKeys(ctx, userID)
	if err != nil {
		return false, err
	}
	if _, ok := existing[keyMaster]; !ok {
		return false, nil
	}
	uploaded := req.keys()
	if len(uploaded) == 0 {
		return false, nil // nothing to store: refused without asking for auth
	}
	if uploaded[keyMaster] == nil {
		return true, nil
	}
	for typ, raw := range uploaded {
		if !sameJSON(existing[typ], raw) {
			return true, nil
		}
	}
	return false, nil
}

// keys returns the uploaded keys by type.
func (req DeviceSigningRequest) keys() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for typ, raw := range map[string]json.RawMessage{
		keyMaster: req.MasterKey, keySelfSigning: req.SelfSigningKey, keyUserSigning: req.UserSigningKey,
	} {
		if len(raw) > 0 {
			out[typ] = raw
		}
	}
	return out
}

// sameJSON reports whether two JSON values are equal in canonical form.
func sameJSON(a, b json.RawMessage) bool {
	ca, errA := gmsl.CanonicalJSON(a)
	cb, errB := gmsl.CanonicalJSON(b)
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

// UploadCrossSigning stores the user's cross-signing keys: each for the
// user with the right usage and one ed25519 key, the self-signing and
// user-signing keys signed by the master key.
func (k *Keys) UploadCrossSigning(ctx context.Context, userID string, req DeviceSigningRequest) error {
	existing, err := k.db.CrossSigningKeys(ctx, userID)
	if err != nil {
		return err
	}
	master := existing[keyMaster]
	upload := map[string]json.RawMessage{}
	if len(req.MasterKey) > 0 {
		if err := checkCrossSigningKey(userID, keyMaster, req.MasterKey); err != nil {
			return err
		}
		master, upload[keyMaster] = req.MasterKey, req.MasterKey
	}
	for typ, raw := range map[string]json.RawMessage{keySelfSigning: req.SelfSigningKey, keyUserSigning: req.UserSigningKey} {
		if len(raw) == 0 {
			continue
		}
		if err := checkCrossSigningKey(userID, typ, raw); err != nil {
			return err
		}
		if master == nil {
			return mxerr.InvalidParam("%s key needs a master key", typ)
		}
		pub := publicKeyOf(master)
		if err := verifySigned(userID, "ed25519:"+pub, pub, raw); err != nil {
			return err
		}
		upload[typ] = raw
	}
	if len(upload) == 0 {
		return mxerr.MissingParam("no keys to upload")
	}
	for typ, raw := range upload { // stored canonical, so that a retry compares equal
		canonical, err := gmsl.CanonicalJSON(raw)
		if err != nil {
			return mxerr.BadJSON("%s key is not valid JSON", typ)
		}
		upload[typ] = canonical
	}
	err = k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		for typ, raw := range upload {
			if err := tx.PutCrossSigningKey(ctx, userID, typ, raw); err != nil {
				return err
			}
		}
		_, err := tx.AddDeviceListChange(ctx, userID)
		return err
	})
	if err == nil {
		k.notifier.WakeShared(userID) // device_lists.changed of everyone sharing a room
	}
	return err
}

func checkCrossSigningKey(userID, typ string, raw json.RawMessage) error {
	var key crossSigningKey
	if err := json.Unmarshal(raw, &key); err != nil {
		return mxerr.BadJSON("%s key is malformed", typ)
	}
	if key.UserID != userID {
		return mxerr.InvalidParam("%s key is for %s", typ, key.UserID)
	}
	usage := false
	for _, u := range key.Usage {
		usage = usage || u == typ
	}
	if !usage || len(key.Keys) != 1 {
		return mxerr.InvalidParam("%s key needs usage %q and exactly one key", typ, typ)
	}
	for id, pub := range key.Keys {
		if id != "ed25519:"+pub {
			return mxerr.InvalidParam("%s key id must be ed25519:<public key>", typ)
		}
	}
	return nil
}

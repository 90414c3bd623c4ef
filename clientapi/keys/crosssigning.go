package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

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
// user-signing keys signed by the master key (M_INVALID_SIGNATURE if not,
// M_MISSING_PARAM if there is none), no public key equal to one of the
// user's device ids (M_FORBIDDEN: signatures name keys by these ids).
func (k *Keys) UploadCrossSigning(ctx context.Context, userID string, req DeviceSigningRequest) error {
	existing, err := k.db.CrossSigningKeys(ctx, userID)
	if err != nil {
		return err
	}
	upload, err := checkCrossSigningUpload(userID, existing[keyMaster], req)
	if err != nil {
		return err
	}
	u, err := spec.NewUserID(userID, true)
	if err != nil {
		return err
	}
	err = k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		devices, err := tx.DeviceIDs(ctx, u.Local())
		if err != nil {
			return err
		}
		for typ, raw := range upload {
			if slices.Contains(devices, publicKeyOf(raw)) {
				return mxerr.Forbidden("the public key of the %s key is the id of one of your devices", typ)
			}
			if err := tx.PutCrossSigningKey(ctx, userID, typ, raw); err != nil {
				return err
			}
		}
		_, err = tx.AddDeviceListChange(ctx, userID)
		return err
	})
	if err == nil {
		k.notifier.WakeShared(userID) // device_lists.changed of everyone sharing a room
	}
	return err
}

// checkCrossSigningUpload checks the uploaded keys against each other and
// the stored master key (nil if none) and returns them by type, canonical
// so that a retry compares equal.
func checkCrossSigningUpload(userID string, master json.RawMessage, req DeviceSigningRequest) (map[string]json.RawMessage, error) {
	upload := map[string]json.RawMessage{}
	if len(req.MasterKey) > 0 {
		if err := checkCrossSigningKey(userID, keyMaster, req.MasterKey); err != nil {
			return nil, err
		}
		master, upload[keyMaster] = req.MasterKey, req.MasterKey
	}
	for typ, raw := range map[string]json.RawMessage{keySelfSigning: req.SelfSigningKey, keyUserSigning: req.UserSigningKey} {
		if len(raw) == 0 {
			continue
		}
		if err := checkCrossSigningKey(userID, typ, raw); err != nil {
			return nil, err
		}
		if master == nil {
			return nil, mxerr.MissingParam("%s key needs a master key", typ)
		}
		pub := publicKeyOf(master)
		if err := verifySigned(userID, "ed25519:"+pub, pub, raw); err != nil {
			return nil, invalidSignature("the %s key is not signed by the master key", typ)
		}
		upload[typ] = raw
	}
	if len(upload) == 0 {
		return nil, mxerr.MissingParam("no keys to upload")
	}
	for typ, raw := range upload {
		canonical, err := gmsl.CanonicalJSON(raw)
		if err != nil {
			return nil, mxerr.BadJSON("%s key is not valid JSON", typ)
		}
		upload[typ] = canonical
	}
	return upload, nil
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

package keys

import (
	"context"
	"encoding/json"
	"strings"

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
// user-interactive auth: the first master key does not (MSC3967), replacing
// one does.
func (k *Keys) NeedsAuth(ctx context.Context, userID string, req DeviceSigningRequest) (bool, error) {
	existing, err := k.db.CrossSigningKeys(ctx, userID)
	if err != nil {
		return false, err
	}
	master, ok := existing[keyMaster]
	if !ok {
		return false, nil
	}
	if len(req.MasterKey) == 0 {
		return len(req.SelfSigningKey) > 0 || len(req.UserSigningKey) > 0, nil
	}
	return publicKeyOf(master) != publicKeyOf(req.MasterKey), nil
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
		k.notifier.Wake(userID)
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

// UploadSignatures stores the uploader's signatures over keys: its own
// devices (by its self-signing key), its own master key (by one of its
// devices), and other users' master keys (by its user-signing key). It
// returns the failures per user and key id.
func (k *Keys) UploadSignatures(ctx context.Context, userID string, req map[string]map[string]json.RawMessage) (map[string]map[string]any, error) {
	own, err := k.db.CrossSigningKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	devices, err := k.db.DeviceKeys(ctx, userID, nil)
	if err != nil {
		return nil, err
	}
	failures := map[string]map[string]any{}
	fail := func(user, keyID string, e *mxerr.Error) {
		if failures[user] == nil {
			failures[user] = map[string]any{}
		}
		failures[user][keyID] = e.Body()
	}
	var good []storage.KeySignature
	for target, keys := range req {
		for keyID, raw := range keys {
			sigs, err := k.checkSignature(userID, target, keyID, raw, own, devices)
			if err != nil {
				mx, ok := err.(*mxerr.Error)
				if !ok {
					return nil, err
				}
				fail(target, keyID, mx)
				continue
			}
			good = append(good, sigs...)
		}
	}
	if len(good) == 0 {
		return failures, nil
	}
	err = k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		changed := map[string]bool{}
		for _, s := range good {
			if err := tx.PutKeySignature(ctx, s); err != nil {
				return err
			}
			changed[s.TargetUser] = true
		}
		for user := range changed {
			if _, err := tx.AddDeviceListChange(ctx, user); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		k.notifier.Wake(userID)
	}
	return failures, err
}

// checkSignature verifies the uploader's signatures on one signed key and
// returns them for storing.
func (k *Keys) checkSignature(userID, target, keyID string, raw json.RawMessage,
	own map[string]json.RawMessage, devices map[string]json.RawMessage,
) ([]storage.KeySignature, error) {
	var obj struct {
		Signatures map[string]map[string]string `json:"signatures"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, mxerr.BadJSON("signed key is malformed")
	}
	var out []storage.KeySignature
	for signerKeyID, sig := range obj.Signatures[userID] {
		pub := k.signerKey(userID, target, keyID, signerKeyID, own, devices)
		if pub == "" {
			return nil, mxerr.New(400, "M_INVALID_SIGNATURE", "%s cannot sign this key", signerKeyID)
		}
		if err := verifySigned(userID, signerKeyID, pub, raw); err != nil {
			return nil, mxerr.New(400, "M_INVALID_SIGNATURE", "signature by %s does not verify", signerKeyID)
		}
		out = append(out, storage.KeySignature{
			TargetUser: target, TargetKeyID: keyID, SignerUser: userID, SignerKeyID: signerKeyID, Signature: sig,
		})
	}
	if len(out) == 0 {
		return nil, mxerr.New(400, "M_INVALID_SIGNATURE", "no signature by %s", userID)
	}
	return out, nil
}

// signerKey returns the public key that may make the signature, or "".
func (k *Keys) signerKey(userID, target, keyID, signerKeyID string, own, devices map[string]json.RawMessage) string {
	pub := strings.TrimPrefix(signerKeyID, "ed25519:")
	switch {
	case target == userID && devices[keyID] != nil: // own device, by the self-signing key
		if publicKeyOf(own[keySelfSigning]) == pub {
			return pub
		}
	case target == userID && publicKeyOf(own[keyMaster]) == keyID: // own master key, by a device
		var dk deviceKeys
		if raw := devices[pub]; raw != nil && json.Unmarshal(raw, &dk) == nil {
			return dk.Keys["ed25519:"+pub]
		}
	case target != userID: // another user's master key, by the user-signing key
		if publicKeyOf(own[keyUserSigning]) == pub {
			return pub
		}
	}
	return ""
}

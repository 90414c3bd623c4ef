// Package keys is the end-to-end encryption key store of the client API:
// device keys, one-time and fallback keys, cross-signing keys and their
// signatures. The server checks what it can (ownership, signatures by the
// device's own key, that identities never change) and otherwise stores and
// relays keys exactly as clients signed them.
package keys

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
)

// Keys serves the key endpoints' logic.
type Keys struct {
	db         *storage.DB
	notifier   *syncapi.Notifier
	serverName string
}

// New returns the key store.
func New(db *storage.DB, notifier *syncapi.Notifier, serverName string) *Keys {
	return &Keys{db: db, notifier: notifier, serverName: serverName}
}

// deviceKeys is the part of uploaded device keys the server checks.
type deviceKeys struct {
	UserID     string                       `json:"user_id"`
	DeviceID   string                       `json:"device_id"`
	Algorithms []string                     `json:"algorithms"`
	Keys       map[string]string            `json:"keys"`
	Signatures map[string]map[string]string `json:"signatures"`
}

// UploadRequest is the body of POST /keys/upload.
type UploadRequest struct {
	DeviceKeys       json.RawMessage            `json:"device_keys"`
	OneTimeKeys      map[string]json.RawMessage `json:"one_time_keys"`
	FallbackKeys     map[string]json.RawMessage `json:"fallback_keys"`
	UnstableFallback map[string]json.RawMessage `json:"org.matrix.msc2732.fallback_keys"`
}

// Upload stores a device's keys and returns its one-time key counts.
func (k *Keys) Upload(ctx context.Context, userID, deviceID string, req UploadRequest) (map[string]int, error) {
	checked, err := Check(userID, deviceID, req)
	if err != nil {
		return nil, err
	}
	var counts map[string]int
	err = k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		counts, err = checked.Store(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	k.WakeFor(checked)
	return counts, nil
}

// Checked is an upload of keys that passed the checks of Check, ready to
// be stored.
type Checked struct {
	userID, deviceID string
	identity         json.RawMessage // nil: no device keys uploaded
	otks, fallbacks  []storage.OneTimeKey
}

// Check checks keys uploaded for a device as POST /keys/upload does:
// device keys for this user and device, signed by the device's own key if
// signed at all, and well-formed one-time and fallback keys.
func Check(userID, deviceID string, req UploadRequest) (*Checked, error) {
	c := &Checked{userID: userID, deviceID: deviceID}
	if len(req.DeviceKeys) > 0 && string(req.DeviceKeys) != "null" {
		var err error
		if c.identity, err = checkDeviceKeys(userID, deviceID, req.DeviceKeys); err != nil {
			return nil, err
		}
	}
	var err error
	if c.otks, err = parseKeys(req.OneTimeKeys); err != nil {
		return nil, err
	}
	fallbacks := req.FallbackKeys
	if fallbacks == nil {
		fallbacks = req.UnstableFallback
	}
	if c.fallbacks, err = parseKeys(fallbacks); err != nil {
		return nil, err
	}
	algorithms := map[string]bool{}
	for _, fb := range c.fallbacks {
		if algorithms[fb.Algorithm] {
			return nil, mxerr.InvalidParam("at most one fallback key per algorithm, two of %s", fb.Algorithm)
		}
		algorithms[fb.Algorithm] = true
	}
	return c, nil
}

// HasDeviceKeys reports whether the upload holds the device's identity keys.
func (c *Checked) HasDeviceKeys() bool { return c.identity != nil }

// Store stores the keys inside the caller's transaction and returns the
// device's one-time key counts. A one-time key id uploaded before with
// other content is M_INVALID_PARAM.
func (c *Checked) Store(ctx context.Context, tx *storage.Tx) (map[string]int, error) {
	if c.identity != nil {
		changed, err := tx.PutDeviceKeys(ctx, c.userID, c.deviceID, c.identity)
		if err != nil {
			return nil, err
		}
		if changed {
			if _, err := tx.AddDeviceListChange(ctx, c.userID); err != nil {
				return nil, err
			}
		}
	}
	if err := tx.AddOneTimeKeys(ctx, c.userID, c.deviceID, c.otks); errors.Is(err, storage.ErrExists) {
		return nil, mxerr.InvalidParam("%v: a key with this id but other content was uploaded before", err)
	} else if err != nil {
		return nil, err
	}
	for _, fb := range c.fallbacks {
		if err := tx.SetFallbackKey(ctx, c.userID, c.deviceID, fb); err != nil {
			return nil, err
		}
	}
	return tx.OneTimeKeyCounts(ctx, c.userID, c.deviceID)
}

// WakeFor wakes the syncs that track the uploader's devices (its own
// and those of everyone sharing a room with it), once the transaction
// that stored the upload committed.
func (k *Keys) WakeFor(c *Checked) {
	if c.identity != nil {
		k.notifier.WakeShared(c.userID)
	}
}

// checkDeviceKeys checks uploaded device keys: for this user and device,
// with an ed25519 and a curve25519 key of the device and, if signed at
// all, signed by that ed25519 key. It returns them in canonical form.
//
// Missing required fields are M_BAD_JSON (the spec's "missing required
// keys"). Unsigned keys are stored: clients verify the self-signature
// themselves and ignore such a device, and test suites (Complement's
// TestDeviceListUpdates) upload them; a signature that is present must
// verify, so forged keys are refused.
func checkDeviceKeys(userID, deviceID string, raw json.RawMessage) (json.RawMessage, error) {
	var dk deviceKeys
	if err := json.Unmarshal(raw, &dk); err != nil {
		return nil, mxerr.BadJSON("device_keys is malformed")
	}
	if dk.UserID == "" || dk.DeviceID == "" || len(dk.Algorithms) == 0 || len(dk.Keys) == 0 {
		return nil, mxerr.BadJSON("device_keys need user_id, device_id, algorithms and keys")
	}
	if dk.UserID != userID || dk.DeviceID != deviceID {
		return nil, mxerr.InvalidParam("device_keys are for %s/%s, not this device", dk.UserID, dk.DeviceID)
	}
	if dk.Keys["ed25519:"+deviceID] == "" || dk.Keys["curve25519:"+deviceID] == "" {
		return nil, mxerr.InvalidParam("device_keys need an ed25519 and a curve25519 key of the device")
	}
	if len(dk.Signatures) > 0 {
		if err := verifySigned(userID, "ed25519:"+deviceID, dk.Keys["ed25519:"+deviceID], raw); err != nil {
			return nil, err
		}
	}
	canonical, err := gmsl.CanonicalJSON(raw)
	if err != nil {
		return nil, mxerr.BadJSON("device_keys is not valid JSON")
	}
	return canonical, nil
}

// verifySigned checks that message carries a valid signature by signer's
// ed25519 key keyID whose public key is pubKey (unpadded base64).
func verifySigned(signer, keyID, pubKey string, message []byte) error {
	pub, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(pubKey, "="))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return mxerr.InvalidParam("missing or malformed %s key", keyID)
	}
	if err := gmsl.VerifyJSON(signer, gmsl.KeyID(keyID), ed25519.PublicKey(pub), message); err != nil {
		return mxerr.InvalidParam("signature by %s does not verify", keyID)
	}
	return nil
}

// parseKeys reads a map of "algorithm:id" to key objects.
func parseKeys(keys map[string]json.RawMessage) ([]storage.OneTimeKey, error) {
	out := make([]storage.OneTimeKey, 0, len(keys))
	for id, raw := range keys {
		alg, rest, ok := strings.Cut(id, ":")
		if !ok || alg == "" || rest == "" {
			return nil, mxerr.InvalidParam("key id %q is not algorithm:id", id)
		}
		canonical, err := gmsl.CanonicalJSON(raw)
		if err != nil || len(canonical) == 0 || (canonical[0] != '{' && canonical[0] != '"') {
			return nil, mxerr.BadJSON("key %s is malformed", id)
		}
		out = append(out, storage.OneTimeKey{KeyID: id, Algorithm: alg, JSON: canonical})
	}
	return out, nil
}

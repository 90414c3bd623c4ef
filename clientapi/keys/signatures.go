package keys

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// UploadSignatures stores the uploader's signatures over keys: its own
// devices (by its self-signing key), its own master key (by one of its
// devices), and other users' master keys (by its user-signing key). Each
// signed object must be the stored key (signatures and unsigned aside).
// It returns the failures per user and key id; the good signatures of the
// request are stored whatever failed.
func (k *Keys) UploadSignatures(ctx context.Context, userID string, req map[string]map[string]json.RawMessage) (map[string]map[string]any, error) {
	sk, err := k.signingKeysFor(ctx, userID, req)
	if err != nil {
		return nil, err
	}
	failures := map[string]map[string]any{}
	var good []storage.KeySignature
	for target, keys := range req {
		for keyID, raw := range keys {
			sigs, err := sk.check(target, keyID, raw)
			var mx *mxerr.Error
			if errors.As(err, &mx) {
				if failures[target] == nil {
					failures[target] = map[string]any{}
				}
				failures[target][keyID] = mx.Body()
				continue
			}
			if err != nil {
				return nil, err
			}
			good = append(good, sigs...)
		}
	}
	if len(good) == 0 {
		return failures, nil
	}
	changed := map[string]bool{}
	err = k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
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
	if err != nil {
		return nil, err
	}
	k.notifier.Wake(userID)
	for user := range changed {
		k.notifier.WakeShared(user)
	}
	return failures, nil
}

// signingKeys are the stored keys an upload of signatures is checked
// against.
type signingKeys struct {
	userID  string
	own     map[string]json.RawMessage // the uploader's cross-signing keys by type
	devices map[string]json.RawMessage // the uploader's device keys by device id
	masters map[string]json.RawMessage // other target users' master keys
}

func (k *Keys) signingKeysFor(ctx context.Context, userID string, req map[string]map[string]json.RawMessage) (*signingKeys, error) {
	sk := &signingKeys{userID: userID, masters: map[string]json.RawMessage{}}
	var err error
	if sk.own, err = k.db.CrossSigningKeys(ctx, userID); err != nil {
		return nil, err
	}
	if sk.devices, err = k.db.DeviceKeys(ctx, userID, nil); err != nil {
		return nil, err
	}
	for target := range req {
		if target == userID {
			continue
		}
		theirs, err := k.db.CrossSigningKeys(ctx, target)
		if err != nil {
			return nil, err
		}
		if m, ok := theirs[keyMaster]; ok {
			sk.masters[target] = m
		}
	}
	return sk, nil
}

// signedObject is the part of a signed key the checks read.
type signedObject struct {
	Signatures map[string]map[string]string `json:"signatures"`
}

// check verifies the uploader's signatures on one signed key and returns
// the new ones for storing. Signatures the stored key carries already (a
// device's own, a master key's by the device that uploaded it) are
// accepted as they are: uploading them again is not an error.
func (sk *signingKeys) check(target, keyID string, raw json.RawMessage) ([]storage.KeySignature, error) {
	stored, signerOf := sk.target(target, keyID)
	if stored == nil {
		return nil, mxerr.NotFound("%s has no key %s that %s may sign", target, keyID, sk.userID)
	}
	var uploaded, old signedObject
	if err := json.Unmarshal(raw, &uploaded); err != nil {
		return nil, mxerr.BadJSON("signed key is malformed")
	}
	if !sameKey(stored, raw) {
		return nil, invalidSignature("the signed object is not the stored key %s", keyID)
	}
	if len(uploaded.Signatures[sk.userID]) == 0 {
		return nil, invalidSignature("no signature by %s", sk.userID)
	}
	_ = json.Unmarshal(stored, &old) // stored keys are JSON objects
	var out []storage.KeySignature
	for signerKeyID, sig := range uploaded.Signatures[sk.userID] {
		if old.Signatures[sk.userID][signerKeyID] == sig {
			continue
		}
		pub := signerOf(signerKeyID)
		if pub == "" {
			return nil, invalidSignature("%s cannot sign this key", signerKeyID)
		}
		if err := verifySigned(sk.userID, signerKeyID, pub, raw); err != nil {
			return nil, invalidSignature("signature by %s does not verify", signerKeyID)
		}
		out = append(out, storage.KeySignature{
			TargetUser: target, TargetKeyID: keyID, SignerUser: sk.userID, SignerKeyID: signerKeyID, Signature: sig,
		})
	}
	return out, nil
}

// target returns the stored key a signature upload names and a function
// giving the public key behind a signer key id of the uploader that may
// sign it ("" if that key may not), or nil if there is no such key.
func (sk *signingKeys) target(target, keyID string) (json.RawMessage, func(signerKeyID string) string) {
	only := func(pub string) func(string) string {
		return func(signerKeyID string) string {
			if pub != "" && signerKeyID == "ed25519:"+pub {
				return pub
			}
			return ""
		}
	}
	switch {
	case target == sk.userID && sk.devices[keyID] != nil: // own device, by the self-signing key
		return sk.devices[keyID], only(publicKeyOf(sk.own[keySelfSigning]))
	case target == sk.userID && keyID != "" && keyID == publicKeyOf(sk.own[keyMaster]): // own master key, by a device
		return sk.own[keyMaster], func(signerKeyID string) string {
			deviceID, ok := strings.CutPrefix(signerKeyID, "ed25519:")
			var dk deviceKeys
			if !ok || sk.devices[deviceID] == nil || json.Unmarshal(sk.devices[deviceID], &dk) != nil {
				return ""
			}
			return dk.Keys[signerKeyID]
		}
	case target != sk.userID && keyID != "" && keyID == publicKeyOf(sk.masters[target]): // another's master key, by the user-signing key
		return sk.masters[target], only(publicKeyOf(sk.own[keyUserSigning]))
	}
	return nil, nil
}

// sameKey reports whether a signed object is the stored key: equal once
// both are without signatures and unsigned data.
func sameKey(stored, signed json.RawMessage) bool {
	strip := func(raw json.RawMessage) json.RawMessage {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil || obj == nil {
			return nil
		}
		delete(obj, "signatures")
		delete(obj, "unsigned")
		out, _ := json.Marshal(obj)
		return out
	}
	a, b := strip(stored), strip(signed)
	return a != nil && b != nil && sameJSON(a, b)
}

func invalidSignature(format string, args ...any) *mxerr.Error {
	return mxerr.New(http.StatusBadRequest, "M_INVALID_SIGNATURE", format, args...)
}

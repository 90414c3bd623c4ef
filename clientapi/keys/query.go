package keys

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// QueryResponse is the body of a /keys/query answer.
type QueryResponse struct {
	DeviceKeys      map[string]map[string]json.RawMessage `json:"device_keys"`
	MasterKeys      map[string]json.RawMessage            `json:"master_keys"`
	SelfSigningKeys map[string]json.RawMessage            `json:"self_signing_keys"`
	UserSigningKeys map[string]json.RawMessage            `json:"user_signing_keys"`
	Failures        map[string]any                        `json:"failures"`
}

// Query returns the device and cross-signing keys of the users (and
// devices; none listed means all), as requester sees them. Users on other
// servers are reported under failures until federation can ask them.
func (k *Keys) Query(ctx context.Context, requester string, users map[string][]string) (*QueryResponse, error) {
	resp := &QueryResponse{
		DeviceKeys: map[string]map[string]json.RawMessage{}, MasterKeys: map[string]json.RawMessage{},
		SelfSigningKeys: map[string]json.RawMessage{}, UserSigningKeys: map[string]json.RawMessage{},
		Failures: map[string]any{},
	}
	var local []string
	localparts := map[string]string{}
	for userID := range users {
		u, err := spec.NewUserID(userID, true)
		if err != nil {
			return nil, mxerr.InvalidParam("invalid user id %q", userID)
		}
		if string(u.Domain()) != k.serverName {
			resp.Failures[string(u.Domain())] = map[string]string{"status": "unreachable"}
			continue
		}
		local = append(local, userID)
		localparts[userID] = u.Local()
	}
	stored, err := k.db.KeysOf(ctx, local, localparts, requester)
	if err != nil {
		return nil, err
	}
	for _, userID := range local {
		if err := queryUser(requester, userID, users[userID], stored, resp); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// queryUser fills the response with one local user's keys.
func queryUser(requester, userID string, devices []string, stored *storage.KeysOfUsers, resp *QueryResponse) error {
	want := map[string]bool{}
	for _, d := range devices {
		want[d] = true
	}
	sigs := stored.Signatures[userID]
	out := map[string]json.RawMessage{}
	for deviceID, raw := range stored.Devices[userID] {
		if len(want) > 0 && !want[deviceID] {
			continue
		}
		extra := map[string]any{}
		if name, ok := stored.DeviceNames[userID][deviceID]; ok {
			extra["device_display_name"] = name
		}
		merged, err := withSignatures(raw, sigs, deviceID, extra)
		if err != nil {
			return err
		}
		out[deviceID] = merged
	}
	resp.DeviceKeys[userID] = out
	for typ, raw := range stored.CrossSigning[userID] {
		if typ == keyUserSigning && userID != requester {
			continue // only its owner sees the user-signing key
		}
		merged, err := withSignatures(raw, sigs, publicKeyOf(raw), nil)
		if err != nil {
			return err
		}
		switch typ {
		case keyMaster:
			resp.MasterKeys[userID] = merged
		case keySelfSigning:
			resp.SelfSigningKeys[userID] = merged
		case keyUserSigning:
			resp.UserSigningKeys[userID] = merged
		}
	}
	return nil
}

// withSignatures adds the stored signatures over keyID to a key object,
// and the extra fields to its unsigned object.
func withSignatures(raw json.RawMessage, sigs []storage.KeySignature, keyID string, extra map[string]any) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	signatures := map[string]map[string]string{}
	if s, ok := obj["signatures"]; ok {
		_ = json.Unmarshal(s, &signatures)
	}
	added := false
	for _, s := range sigs {
		if s.TargetKeyID != keyID {
			continue
		}
		if signatures[s.SignerUser] == nil {
			signatures[s.SignerUser] = map[string]string{}
		}
		signatures[s.SignerUser][s.SignerKeyID] = s.Signature
		added = true
	}
	if added {
		obj["signatures"], _ = json.Marshal(signatures)
	}
	if len(extra) > 0 {
		obj["unsigned"], _ = json.Marshal(extra)
	}
	return json.Marshal(obj)
}

// publicKeyOf returns the unpadded base64 public key of a cross-signing
// key object: the id signatures over it use.
func publicKeyOf(raw json.RawMessage) string {
	var key struct {
		Keys map[string]string `json:"keys"`
	}
	if json.Unmarshal(raw, &key) != nil {
		return ""
	}
	for id := range key.Keys {
		return strings.TrimPrefix(id, "ed25519:")
	}
	return ""
}

// ClaimResponse is the body of a /keys/claim answer.
type ClaimResponse struct {
	OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
	Failures    map[string]any                                   `json:"failures"`
}

// Claim hands out one key per requested device and algorithm: a one-time
// key while any is left, else the device's fallback key.
func (k *Keys) Claim(ctx context.Context, req map[string]map[string]string) (*ClaimResponse, error) {
	resp := &ClaimResponse{OneTimeKeys: map[string]map[string]map[string]json.RawMessage{}, Failures: map[string]any{}}
	err := k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		for userID, devices := range req {
			u, err := spec.NewUserID(userID, true)
			if err != nil {
				return mxerr.InvalidParam("invalid user id %q", userID)
			}
			if string(u.Domain()) != k.serverName {
				resp.Failures[string(u.Domain())] = map[string]string{"status": "unreachable"}
				continue
			}
			for deviceID, algorithm := range devices {
				key, err := tx.ClaimKey(ctx, userID, deviceID, algorithm)
				if errors.Is(err, storage.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if resp.OneTimeKeys[userID] == nil {
					resp.OneTimeKeys[userID] = map[string]map[string]json.RawMessage{}
				}
				resp.OneTimeKeys[userID][deviceID] = map[string]json.RawMessage{key.KeyID: key.JSON}
			}
		}
		return nil
	})
	return resp, err
}

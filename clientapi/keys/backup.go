package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// MegolmBackupV1 is the backup algorithm of the spec; other algorithms
// (MSCs) are stored without checks of their auth_data.
const MegolmBackupV1 = "m.megolm_backup.v1.curve25519-aes-sha2"

// maxBackupIDLength bounds room and session ids of backed-up keys.
const maxBackupIDLength = 255

// BackupVersionRequest is the body of POST /room_keys/version and of PUT
// /room_keys/version/{version}.
type BackupVersionRequest struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Version   string          `json:"version,omitempty"` // PUT only
}

// BackupInfo is the answer of GET /room_keys/version.
type BackupInfo struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Count     int             `json:"count"`
	Etag      string          `json:"etag"`
	Version   string          `json:"version"`
}

// BackupCount is the answer of the key writing endpoints: the number of
// keys in the backup and its etag.
type BackupCount struct {
	Etag  string `json:"etag"`
	Count int    `json:"count"`
}

// BackupKeyData is a backed-up session key as clients upload it; the
// pointers tell a missing field from a zero one.
type BackupKeyData struct {
	FirstMessageIndex *int64          `json:"first_message_index"`
	ForwardedCount    *int64          `json:"forwarded_count"`
	IsVerified        *bool           `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

// BackupSessions are a room's backed-up keys by session id.
type BackupSessions struct {
	Sessions map[string]BackupKeyData `json:"sessions"`
}

// CreateBackup adds a backup version, which becomes the user's current
// one, and returns its version.
func (k *Keys) CreateBackup(ctx context.Context, userID string, req BackupVersionRequest) (string, error) {
	authData, err := checkBackupVersion(req)
	if err != nil {
		return "", err
	}
	var version int64
	err = k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		version, err = tx.CreateBackupVersion(ctx, userID, req.Algorithm, authData)
		return err
	})
	return formatVersion(version), err
}

// checkBackupVersion checks a backup's algorithm and auth_data and returns
// the auth_data compacted.
func checkBackupVersion(req BackupVersionRequest) (json.RawMessage, error) {
	if req.Algorithm == "" {
		return nil, mxerr.MissingParam("algorithm is required")
	}
	var auth map[string]json.RawMessage
	if err := json.Unmarshal(req.AuthData, &auth); err != nil || auth == nil {
		return nil, mxerr.BadJSON("auth_data must be an object")
	}
	if req.Algorithm == MegolmBackupV1 {
		var key string
		if err := json.Unmarshal(auth["public_key"], &key); err != nil || key == "" {
			return nil, mxerr.InvalidParam("auth_data.public_key must be a non-empty string")
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, req.AuthData); err != nil {
		return nil, mxerr.BadJSON("auth_data is not valid JSON")
	}
	return buf.Bytes(), nil
}

// Backup returns a backup version of the user, or its current one if
// version is "".
func (k *Keys) Backup(ctx context.Context, userID, version string) (BackupInfo, error) {
	var (
		v   storage.BackupVersion
		err error
	)
	if version == "" {
		v, err = k.db.BackupVersion(ctx, userID, 0)
		if errors.Is(err, storage.ErrNotFound) {
			return BackupInfo{}, mxerr.NotFound("no current backup version")
		}
	} else {
		v, err = k.knownVersion(ctx, userID, version)
	}
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{
		Algorithm: v.Algorithm, AuthData: v.AuthData, Count: v.Count, Etag: formatEtag(v.Etag), Version: formatVersion(v.Version),
	}, nil
}

// knownVersion returns a backup version of the user that exists and is not
// deleted, or M_NOT_FOUND.
func (k *Keys) knownVersion(ctx context.Context, userID, version string) (storage.BackupVersion, error) {
	n, ok := parseVersion(version)
	if !ok {
		return storage.BackupVersion{}, unknownVersion(version)
	}
	v, err := k.db.BackupVersion(ctx, userID, n)
	if errors.Is(err, storage.ErrNotFound) {
		return v, unknownVersion(version)
	}
	return v, err
}

// UpdateBackup replaces the auth_data of a backup version; the algorithm
// cannot change.
func (k *Keys) UpdateBackup(ctx context.Context, userID, version string, req BackupVersionRequest) error {
	if req.Version != "" && req.Version != version {
		return mxerr.InvalidParam("version in the body does not match the path")
	}
	authData, err := checkBackupVersion(req)
	if err != nil {
		return err
	}
	n, ok := parseVersion(version)
	if !ok {
		return unknownVersion(version)
	}
	return k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		v, err := tx.LockBackupVersion(ctx, userID, n)
		if errors.Is(err, storage.ErrNotFound) {
			return unknownVersion(version)
		}
		if err != nil {
			return err
		}
		if v.Algorithm != req.Algorithm {
			return mxerr.InvalidParam("algorithm does not match the backup's %s", v.Algorithm)
		}
		return tx.UpdateBackupAuthData(ctx, userID, n, authData)
	})
}

// DeleteBackup deletes a backup version with its keys. A version deleted
// before is deleted again without error.
func (k *Keys) DeleteBackup(ctx context.Context, userID, version string) error {
	n, ok := parseVersion(version)
	if !ok {
		return unknownVersion(version)
	}
	err := k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		return tx.DeleteBackupVersion(ctx, userID, n)
	})
	if errors.Is(err, storage.ErrNotFound) {
		return unknownVersion(version)
	}
	return err
}

// PutBackupKeys stores session keys (room id -> session id -> key) in the
// user's current backup version. A key already stored for a session is
// replaced only by a better one (ShouldReplace).
func (k *Keys) PutBackupKeys(ctx context.Context, userID, version string, rooms map[string]map[string]BackupKeyData) (BackupCount, error) {
	var keys []storage.BackupKey
	for roomID, sessions := range rooms {
		for sessionID, data := range sessions {
			key, err := checkBackupKey(roomID, sessionID, data)
			if err != nil {
				return BackupCount{}, err
			}
			keys = append(keys, key)
		}
	}
	n, ok := parseVersion(version)
	if !ok {
		return BackupCount{}, unknownVersion(version)
	}
	var count BackupCount
	err := k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		if err := lockCurrentVersion(ctx, tx, userID, version, n); err != nil {
			return err
		}
		changed := false
		for _, key := range keys {
			old, err := tx.BackupKey(ctx, userID, n, key.RoomID, key.SessionID)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
			if err == nil && !ShouldReplace(old, key) {
				continue
			}
			if err := tx.PutBackupKey(ctx, userID, n, key); err != nil {
				return err
			}
			changed = true
		}
		if changed {
			if err := tx.BumpBackupEtag(ctx, userID, n); err != nil {
				return err
			}
		}
		var err error
		count, err = backupCount(ctx, tx, userID, n)
		return err
	})
	return count, err
}

// lockCurrentVersion locks the backup version for writing its keys: it
// must exist, not be deleted, and be the user's current one.
func lockCurrentVersion(ctx context.Context, tx *storage.Tx, userID, version string, n int64) error {
	if _, err := tx.LockBackupVersion(ctx, userID, n); errors.Is(err, storage.ErrNotFound) {
		return unknownVersion(version)
	} else if err != nil {
		return err
	}
	current, err := tx.BackupVersion(ctx, userID, 0)
	if err != nil {
		return err
	}
	if current.Version != n {
		return mxerr.New(http.StatusForbidden, "M_WRONG_ROOM_KEYS_VERSION", "wrong backup version").
			With("current_version", formatVersion(current.Version))
	}
	return nil
}

func backupCount(ctx context.Context, tx *storage.Tx, userID string, n int64) (BackupCount, error) {
	v, err := tx.BackupVersion(ctx, userID, n)
	if err != nil {
		return BackupCount{}, err
	}
	return BackupCount{Etag: formatEtag(v.Etag), Count: v.Count}, nil
}

// checkBackupKey checks an uploaded session key.
func checkBackupKey(roomID, sessionID string, data BackupKeyData) (storage.BackupKey, error) {
	if !strings.HasPrefix(roomID, "!") || len(roomID) > maxBackupIDLength {
		return storage.BackupKey{}, mxerr.InvalidParam("invalid room id %q", roomID)
	}
	if sessionID == "" || len(sessionID) > maxBackupIDLength {
		return storage.BackupKey{}, mxerr.InvalidParam("invalid session id %q", sessionID)
	}
	if data.FirstMessageIndex == nil || data.ForwardedCount == nil || data.IsVerified == nil || len(data.SessionData) == 0 {
		return storage.BackupKey{}, mxerr.BadJSON("key %s needs first_message_index, forwarded_count, is_verified and session_data", sessionID)
	}
	if *data.FirstMessageIndex < 0 || *data.ForwardedCount < 0 {
		return storage.BackupKey{}, mxerr.InvalidParam("key %s: indexes and counts cannot be negative", sessionID)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data.SessionData); err != nil || buf.Bytes()[0] != '{' {
		return storage.BackupKey{}, mxerr.BadJSON("key %s: session_data must be an object", sessionID)
	}
	return storage.BackupKey{
		RoomID: roomID, SessionID: sessionID, FirstMessageIndex: *data.FirstMessageIndex,
		ForwardedCount: *data.ForwardedCount, IsVerified: *data.IsVerified, SessionData: buf.Bytes(),
	}, nil
}

// ShouldReplace applies the spec's rule for a key uploaded for a session
// the backup has a key for: keep the verified one; if both or neither are,
// the one with the lower first_message_index; if equal, the one with the
// lower forwarded_count. An upload that is no better keeps the stored key.
func ShouldReplace(stored, uploaded storage.BackupKey) bool {
	if stored.IsVerified != uploaded.IsVerified {
		return uploaded.IsVerified
	}
	if stored.FirstMessageIndex != uploaded.FirstMessageIndex {
		return uploaded.FirstMessageIndex < stored.FirstMessageIndex
	}
	return uploaded.ForwardedCount < stored.ForwardedCount
}

// BackupKeys returns stored keys of an existing backup version: all of
// them (roomID ""), a room's (sessionID "") or one session's.
func (k *Keys) BackupKeys(ctx context.Context, userID, version, roomID, sessionID string) ([]storage.BackupKey, error) {
	v, err := k.knownVersion(ctx, userID, version)
	if err != nil {
		return nil, err
	}
	return k.db.BackupKeys(ctx, userID, v.Version, roomID, sessionID)
}

// DeleteBackupKeys deletes keys of an existing backup version: all of them
// (roomID ""), a room's (sessionID "") or one session's.
func (k *Keys) DeleteBackupKeys(ctx context.Context, userID, version, roomID, sessionID string) (BackupCount, error) {
	n, ok := parseVersion(version)
	if !ok {
		return BackupCount{}, unknownVersion(version)
	}
	var count BackupCount
	err := k.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		if _, err := tx.LockBackupVersion(ctx, userID, n); errors.Is(err, storage.ErrNotFound) {
			return unknownVersion(version)
		} else if err != nil {
			return err
		}
		if err := tx.DeleteBackupKeys(ctx, userID, n, roomID, sessionID); err != nil {
			return err
		}
		var err error
		count, err = backupCount(ctx, tx, userID, n)
		return err
	})
	return count, err
}

// KeyData is the wire form of a stored key.
func KeyData(key storage.BackupKey) BackupKeyData {
	return BackupKeyData{
		FirstMessageIndex: &key.FirstMessageIndex, ForwardedCount: &key.ForwardedCount,
		IsVerified: &key.IsVerified, SessionData: key.SessionData,
	}
}

// parseVersion reads a version as this server formats them: a positive
// decimal number without leading zeros.
func parseVersion(s string) (int64, bool) {
	if s == "" || s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func formatVersion(n int64) string { return strconv.FormatInt(n, 10) }

func formatEtag(n int64) string { return strconv.FormatInt(n, 10) }

func unknownVersion(version string) error {
	return mxerr.NotFound("unknown backup version %q", version)
}

package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
)

// DeviceKeys returns the stored device keys of the user's devices (all of
// them if deviceIDs is empty), by device id.
func (db *DB) DeviceKeys(ctx context.Context, userID string, deviceIDs []string) (map[string]json.RawMessage, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT device_id, key_json FROM device_keys WHERE user_id = $1", userID)
	if err != nil {
		return nil, fmt.Errorf("device keys of %s: %w", userID, err)
	}
	defer rows.Close()
	want := map[string]bool{}
	for _, id := range deviceIDs {
		want[id] = true
	}
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var id, key string
		if err := rows.Scan(&id, &key); err != nil {
			return nil, err
		}
		if len(want) == 0 || want[id] {
			out[id] = json.RawMessage(key)
		}
	}
	return out, rows.Err()
}

// PutDeviceKeys stores a device's identity keys, replacing those stored;
// new identity keys drop the signatures stored over the old ones. changed
// reports whether anything was written.
// Concurrent uploads of the same keys (a client's retries) all succeed.
func (tx *Tx) PutDeviceKeys(ctx context.Context, userID, deviceID string, keys json.RawMessage) (changed bool, err error) {
	res, err := tx.tx.ExecContext(ctx, `INSERT INTO device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, device_id) DO NOTHING`, userID, deviceID, string(keys))
	if err != nil {
		return false, fmt.Errorf("insert device keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert device keys: %w", err)
	}
	if n == 1 {
		return true, nil
	}
	var old string
	if err := tx.tx.QueryRowContext(ctx, "SELECT key_json FROM device_keys WHERE user_id = $1 AND device_id = $2",
		userID, deviceID).Scan(&old); err != nil {
		return false, fmt.Errorf("stored device keys: %w", err)
	}
	if old == string(keys) {
		return false, nil
	}
	// The newer upload stands. New identity keys (a client that lost its
	// keys and set the device up again) void the signatures others made
	// over the old ones.
	if !sameIdentity(json.RawMessage(old), keys) {
		if _, err := tx.tx.ExecContext(ctx, "DELETE FROM key_signatures WHERE target_user = $1 AND target_key_id = $2",
			userID, deviceID); err != nil {
			return false, fmt.Errorf("drop signatures of old device keys: %w", err)
		}
	}
	if _, err := tx.tx.ExecContext(ctx, "UPDATE device_keys SET key_json = $3 WHERE user_id = $1 AND device_id = $2",
		userID, deviceID, string(keys)); err != nil {
		return false, fmt.Errorf("update device keys: %w", err)
	}
	return true, nil
}

// sameIdentity reports whether two device key objects hold the same
// identity keys (their "keys" maps).
func sameIdentity(a, b json.RawMessage) bool {
	var ka, kb struct {
		Keys map[string]string `json:"keys"`
	}
	if json.Unmarshal(a, &ka) != nil || json.Unmarshal(b, &kb) != nil {
		return false
	}
	return maps.Equal(ka.Keys, kb.Keys)
}

// OneTimeKey is a one-time or fallback key.
type OneTimeKey struct {
	KeyID     string // algorithm:id
	Algorithm string
	JSON      json.RawMessage
}

// AddOneTimeKeys stores one-time keys of a device as one upload, after
// its earlier ones in claim order. A key id stored before with other
// content is refused with ErrExists; the same content again is ignored.
func (tx *Tx) AddOneTimeKeys(ctx context.Context, userID, deviceID string, keys []OneTimeKey) error {
	if len(keys) == 0 {
		return nil
	}
	tx.keysChanged(userID, deviceID)
	var seq int64
	if err := tx.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(upload_seq), 0) + 1 FROM one_time_keys
		WHERE user_id = $1 AND device_id = $2`, userID, deviceID).Scan(&seq); err != nil {
		return fmt.Errorf("next one-time key upload: %w", err)
	}
	for _, k := range keys {
		res, err := tx.tx.ExecContext(ctx, `INSERT INTO one_time_keys (user_id, device_id, key_id, algorithm, key_json, upload_seq)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, device_id, key_id) DO NOTHING`,
			userID, deviceID, k.KeyID, k.Algorithm, string(k.JSON), seq)
		if err != nil {
			return fmt.Errorf("insert one-time key: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert one-time key: %w", err)
		}
		if n == 1 {
			continue
		}
		// Stored before (or by a concurrent upload): the same key again
		// is a retry.
		var old string
		err = tx.tx.QueryRowContext(ctx, `SELECT key_json FROM one_time_keys
			WHERE user_id = $1 AND device_id = $2 AND key_id = $3`, userID, deviceID, k.KeyID).Scan(&old)
		if errors.Is(notFound(err), ErrNotFound) {
			continue // claimed since: handed out once, never stored again
		}
		if err != nil {
			return fmt.Errorf("stored one-time key %s: %w", k.KeyID, err)
		}
		if old != string(k.JSON) {
			return fmt.Errorf("one-time key %s: %w", k.KeyID, ErrExists)
		}
	}
	return nil
}

// SetFallbackKey stores a device's fallback key for its algorithm,
// replacing the previous one, as unused. The same key uploaded again keeps
// its used mark: a client that re-sends its current key must still learn
// from sync that it was handed out and needs replacing.
func (tx *Tx) SetFallbackKey(ctx context.Context, userID, deviceID string, k OneTimeKey) error {
	tx.keysChanged(userID, deviceID)
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
		VALUES ($1, $2, $3, $4, $5, FALSE) ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET
		used = CASE WHEN fallback_keys.key_id = excluded.key_id AND fallback_keys.key_json = excluded.key_json
			THEN fallback_keys.used ELSE FALSE END,
		key_id = excluded.key_id, key_json = excluded.key_json`,
		userID, deviceID, k.Algorithm, k.KeyID, string(k.JSON))
	if err != nil {
		return fmt.Errorf("store fallback key: %w", err)
	}
	return nil
}

// KeyCounts are what every /sync tells a device about its keys.
type KeyCounts struct {
	OneTime        map[string]int // unclaimed one-time keys by algorithm
	UnusedFallback []string       // algorithms of fallback keys not handed out yet
}

// DeviceKeyCounts returns a device's key counts, from memory while no
// committed transaction changed the device's keys since they were read
// (gencache).
// The result is shared: callers must not change it.
func (db *DB) DeviceKeyCounts(ctx context.Context, userID, deviceID string) (KeyCounts, error) {
	key := [2]string{userID, deviceID}
	gen := db.keyGens.Of(key)
	if cached, ok := db.keyCounts.Get(key, gen); ok {
		return cached, nil
	}
	var (
		out KeyCounts
		err error
	)
	if out.OneTime, err = oneTimeKeyCounts(ctx, db.read, userID, deviceID); err != nil {
		return KeyCounts{}, err
	}
	if out.UnusedFallback, err = db.unusedFallbackKeyTypes(ctx, userID, deviceID); err != nil {
		return KeyCounts{}, err
	}
	db.keyCounts.Put(key, gen, out)
	return out, nil
}

// maxCachedKeyCounts bounds the devices whose key counts are cached.
const maxCachedKeyCounts = 100000

// keysChanged notes that the transaction changes a device's keys: once
// it is committed, cached counts of the device are stale.
func (tx *Tx) keysChanged(userID, deviceID string) {
	tx.afterCommit(func() { tx.db.keyGens.Advance([2]string{userID, deviceID}) })
}

// OneTimeKeyCounts is DB.OneTimeKeyCounts inside the transaction.
func (tx *Tx) OneTimeKeyCounts(ctx context.Context, userID, deviceID string) (map[string]int, error) {
	return oneTimeKeyCounts(ctx, tx.tx, userID, deviceID)
}

func oneTimeKeyCounts(ctx context.Context, q querier, userID, deviceID string) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT algorithm, COUNT(*) FROM one_time_keys
		WHERE user_id = $1 AND device_id = $2 GROUP BY algorithm`, userID, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// signed_curve25519 is always there, 0 if none is left: clients
	// decide from it whether to upload more, and some take a missing count
	// for an unchanged one.
	out := map[string]int{"signed_curve25519": 0}
	for rows.Next() {
		var alg string
		var n int
		if err := rows.Scan(&alg, &n); err != nil {
			return nil, err
		}
		out[alg] = n
	}
	return out, rows.Err()
}

// unusedFallbackKeyTypes lists the algorithms of a device's fallback keys
// that were not handed out yet.
func (db *DB) unusedFallbackKeyTypes(ctx context.Context, userID, deviceID string) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT algorithm FROM fallback_keys
		WHERE user_id = $1 AND device_id = $2 AND NOT used ORDER BY algorithm`, userID, deviceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var alg string
		if err := rows.Scan(&alg); err != nil {
			return nil, err
		}
		out = append(out, alg)
	}
	return out, rows.Err()
}

// ClaimKey hands out one one-time key of the algorithm for the device,
// deleting it, or, if none is left, the fallback key (marked used, kept).
// Keys go out in upload order, the oldest upload first (MSC4225).
// Each one-time key is handed out exactly once, also when claims race.
// Returns ErrNotFound if the device has neither.
func (tx *Tx) ClaimKey(ctx context.Context, userID, deviceID, algorithm string) (OneTimeKey, error) {
	tx.keysChanged(userID, deviceID)
	for {
		k := OneTimeKey{Algorithm: algorithm}
		var data string
		err := tx.tx.QueryRowContext(ctx, `SELECT key_id, key_json FROM one_time_keys
			WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 ORDER BY upload_seq, key_id LIMIT 1`,
			userID, deviceID, algorithm).Scan(&k.KeyID, &data)
		if errors.Is(notFound(err), ErrNotFound) {
			return tx.claimFallback(ctx, userID, deviceID, algorithm)
		}
		if err != nil {
			return k, err
		}
		res, err := tx.tx.ExecContext(ctx, `DELETE FROM one_time_keys
			WHERE user_id = $1 AND device_id = $2 AND key_id = $3`, userID, deviceID, k.KeyID)
		if err != nil {
			return k, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			k.JSON = json.RawMessage(data)
			return k, nil
		}
		// Another claim took it first: try the next key.
	}
}

func (tx *Tx) claimFallback(ctx context.Context, userID, deviceID, algorithm string) (OneTimeKey, error) {
	k := OneTimeKey{Algorithm: algorithm}
	var data string
	err := tx.tx.QueryRowContext(ctx, `UPDATE fallback_keys SET used = TRUE
		WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 RETURNING key_id, key_json`,
		userID, deviceID, algorithm).Scan(&k.KeyID, &data)
	if err != nil {
		return k, notFound(err)
	}
	k.JSON = json.RawMessage(data)
	return k, nil
}

// DeleteDeviceKeys removes every key of a device (on logout or deletion),
// the signatures over its keys and its pending to-device messages.
func (tx *Tx) DeleteDeviceKeys(ctx context.Context, userID, deviceID string) error {
	tx.keysChanged(userID, deviceID)
	for _, table := range []string{"device_keys", "one_time_keys", "fallback_keys"} {
		if _, err := tx.tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE user_id = $1 AND device_id = $2",
			userID, deviceID); err != nil {
			return fmt.Errorf("delete %s: %w", table, err)
		}
	}
	// Signatures over the device's keys go with them: a later device with
	// the same id has other keys.
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM key_signatures WHERE target_user = $1 AND target_key_id = $2",
		userID, deviceID); err != nil {
		return fmt.Errorf("delete signatures of device %s: %w", deviceID, err)
	}
	_, err := tx.tx.ExecContext(ctx, "DELETE FROM to_device_messages WHERE user_id = $1 AND device_id = $2",
		userID, deviceID)
	return err
}

// AddDeviceListChange records that a user's devices or cross-signing keys
// changed, at a new position of the device_lists stream.
func (tx *Tx) AddDeviceListChange(ctx context.Context, userID string) (int64, error) {
	pos, err := tx.NextStreamPos(ctx, "device_lists")
	if err != nil {
		return 0, err
	}
	_, err = tx.tx.ExecContext(ctx, "INSERT INTO device_list_changes (stream_pos, user_id) VALUES ($1, $2)", pos, userID)
	return pos, err
}

// DeviceListChanges returns the users whose devices changed in (from, to].
func (db *DB) DeviceListChanges(ctx context.Context, from, to int64) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT user_id FROM device_list_changes
		WHERE stream_pos > $1 AND stream_pos <= $2`, from, to)
	if err != nil {
		return nil, err
	}
	out, err := scanColumn[string](rows)
	return out, err
}

// ForgetDevices removes the keys, pending to-device messages and
// dehydrated-device record of deleted devices and records the change in
// the user's device list. Call it in the transaction that deletes the
// devices.
func (tx *Tx) ForgetDevices(ctx context.Context, userID string, deviceIDs []string) error {
	if len(deviceIDs) == 0 {
		return nil
	}
	for _, id := range deviceIDs {
		if err := tx.DeleteDeviceKeys(ctx, userID, id); err != nil {
			return err
		}
		if err := tx.forgetDehydrated(ctx, userID, id); err != nil {
			return err
		}
	}
	_, err := tx.AddDeviceListChange(ctx, userID)
	return err
}

// KeysOfUsers is everything /keys/query returns of a set of users, read in
// a handful of queries whatever the number of users.
type KeysOfUsers struct {
	Devices      map[string]map[string]json.RawMessage // user -> device -> keys
	CrossSigning map[string]map[string]json.RawMessage // user -> key type -> key
	Signatures   map[string][]KeySignature             // target user -> signatures
	DeviceNames  map[string]map[string]string          // user -> device -> display name (local users)
}

// KeysOf reads the keys of users as viewer sees them: signatures by each
// target user itself and by the viewer. localparts maps the local users
// among them to their localparts, for device display names.
func (db *DB) KeysOf(ctx context.Context, users []string, localparts map[string]string, viewer string) (*KeysOfUsers, error) {
	out := &KeysOfUsers{Devices: map[string]map[string]json.RawMessage{}, CrossSigning: map[string]map[string]json.RawMessage{},
		Signatures: map[string][]KeySignature{}, DeviceNames: map[string]map[string]string{}}
	if len(users) == 0 {
		return out, nil
	}
	args := make([]any, len(users))
	for i, u := range users {
		args[i] = u
	}
	in := placeholdersFrom(1, len(users))
	err := eachRow(ctx, db.read, "SELECT user_id, device_id, key_json FROM device_keys WHERE user_id IN ("+in+")", args,
		func(scan func(...any) error) error {
			var user, device, key string
			if err := scan(&user, &device, &key); err != nil {
				return err
			}
			if out.Devices[user] == nil {
				out.Devices[user] = map[string]json.RawMessage{}
			}
			out.Devices[user][device] = json.RawMessage(key)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("device keys: %w", err)
	}
	err = eachRow(ctx, db.read, "SELECT user_id, key_type, key_json FROM cross_signing_keys WHERE user_id IN ("+in+")", args,
		func(scan func(...any) error) error {
			var user, typ, key string
			if err := scan(&user, &typ, &key); err != nil {
				return err
			}
			if out.CrossSigning[user] == nil {
				out.CrossSigning[user] = map[string]json.RawMessage{}
			}
			out.CrossSigning[user][typ] = json.RawMessage(key)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("cross-signing keys: %w", err)
	}
	err = eachRow(ctx, db.read, `SELECT target_user, target_key_id, signer_user, signer_key_id, signature FROM key_signatures
		WHERE target_user IN (`+in+`) AND (signer_user = target_user OR signer_user = $`+fmt.Sprint(len(users)+1)+`)`,
		append(args, viewer), func(scan func(...any) error) error {
			var s KeySignature
			if err := scan(&s.TargetUser, &s.TargetKeyID, &s.SignerUser, &s.SignerKeyID, &s.Signature); err != nil {
				return err
			}
			out.Signatures[s.TargetUser] = append(out.Signatures[s.TargetUser], s)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("key signatures: %w", err)
	}
	if len(localparts) == 0 {
		return out, nil
	}
	byLocal := map[string]string{}
	var largs []any
	for user, local := range localparts {
		byLocal[local] = user
		largs = append(largs, local)
	}
	err = eachRow(ctx, db.read, "SELECT localpart, device_id, display_name FROM devices WHERE display_name IS NOT NULL AND localpart IN ("+
		placeholdersFrom(1, len(largs))+")", largs, func(scan func(...any) error) error {
		var local, device, name string
		if err := scan(&local, &device, &name); err != nil {
			return err
		}
		user := byLocal[local]
		if out.DeviceNames[user] == nil {
			out.DeviceNames[user] = map[string]string{}
		}
		out.DeviceNames[user][device] = name
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("device names: %w", err)
	}
	return out, nil
}

// eachRow runs a query and calls fn for every row.
func eachRow(ctx context.Context, q querier, query string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

package storage

import (
	"context"
	"encoding/json"
	"fmt"
)

// Pusher is where a user's notifications are pushed, owned by the device
// (Localpart, DeviceID) that set it.
type Pusher struct {
	UserID            string
	Localpart         string
	DeviceID          string
	AppID             string
	PushKey           string
	Kind              string
	AppDisplayName    string
	DeviceDisplayName string
	ProfileTag        string
	Lang              string
	Data              json.RawMessage // a JSON object, url included
	PushKeyTS         int64           // unix milliseconds of the last change
	DeliveredPos      int64           // every notification up to it is delivered or given up
}

const pusherColumns = `user_id, localpart, device_id, app_id, pushkey, kind, app_display_name,
	device_display_name, profile_tag, lang, data, pushkey_ts, delivered_pos`

func scanPusher(scan func(...any) error) (Pusher, error) {
	var (
		p    Pusher
		data string
	)
	err := scan(&p.UserID, &p.Localpart, &p.DeviceID, &p.AppID, &p.PushKey, &p.Kind, &p.AppDisplayName,
		&p.DeviceDisplayName, &p.ProfileTag, &p.Lang, &data, &p.PushKeyTS, &p.DeliveredPos)
	p.Data = json.RawMessage(data)
	return p, err
}

// SetPusher creates the pusher p.UserID has for p.AppID and p.PushKey, or
// updates it (keeping its delivery position); PushKeyTS is set to the
// transaction's time and, for a new pusher, DeliveredPos to the push
// evaluator's position. Unless keepOthers, the pushers other users have
// for the same app id and pushkey are deleted.
func (tx *Tx) SetPusher(ctx context.Context, p Pusher, keepOthers bool) error {
	if !keepOthers {
		if _, err := tx.tx.ExecContext(ctx, `DELETE FROM pushers
			WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3`, p.AppID, p.PushKey, p.UserID); err != nil {
			return fmt.Errorf("delete other pushers of %s: %w", p.AppID, err)
		}
	}
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO pushers (`+pusherColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
			(SELECT pos FROM streams WHERE name = $13))
		ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET
			localpart = excluded.localpart, device_id = excluded.device_id, kind = excluded.kind,
			app_display_name = excluded.app_display_name, device_display_name = excluded.device_display_name,
			profile_tag = excluded.profile_tag, lang = excluded.lang, data = excluded.data,
			pushkey_ts = excluded.pushkey_ts`,
		p.UserID, p.Localpart, p.DeviceID, p.AppID, p.PushKey, p.Kind, p.AppDisplayName, p.DeviceDisplayName,
		p.ProfileTag, p.Lang, string(p.Data), millis(tx.Now), PushStream)
	if err != nil {
		return fmt.Errorf("set pusher of %s: %w", p.UserID, err)
	}
	return nil
}

// DeletePusher deletes a user's pusher for an app id and pushkey. Returns
// ErrNotFound if the user had none.
func (tx *Tx) DeletePusher(ctx context.Context, userID, appID, pushKey string) error {
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3",
		userID, appID, pushKey)
	if err != nil {
		return fmt.Errorf("delete pusher of %s: %w", userID, err)
	}
	return oneRow(res)
}

// deleteDevicePushers deletes the pushers a device set.
func (tx *Tx) deleteDevicePushers(ctx context.Context, localpart, deviceID string) error {
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM pushers WHERE localpart = $1 AND device_id = $2",
		localpart, deviceID); err != nil {
		return fmt.Errorf("delete pushers of %s/%s: %w", localpart, deviceID, err)
	}
	return nil
}

// SetPusherDelivered records that every notification of the pusher's user
// up to stream position pos is delivered. The position never moves back;
// a pusher deleted meanwhile stays deleted.
func (tx *Tx) SetPusherDelivered(ctx context.Context, userID, appID, pushKey string, pos int64) error {
	_, err := tx.tx.ExecContext(ctx, `UPDATE pushers SET delivered_pos = $4
		WHERE user_id = $1 AND app_id = $2 AND pushkey = $3 AND delivered_pos < $4`, userID, appID, pushKey, pos)
	if err != nil {
		return fmt.Errorf("set pusher position of %s: %w", userID, err)
	}
	return nil
}

// Pushers returns a user's pushers, oldest app id first.
func (db *DB) Pushers(ctx context.Context, userID string) ([]Pusher, error) {
	return db.queryPushers(ctx, "SELECT "+pusherColumns+" FROM pushers WHERE user_id = $1 ORDER BY app_id, pushkey",
		userID)
}

// Pusher returns a user's pusher for an app id and pushkey. Returns
// ErrNotFound if there is none.
func (db *DB) Pusher(ctx context.Context, userID, appID, pushKey string) (Pusher, error) {
	p, err := scanPusher(db.read.QueryRowContext(ctx, "SELECT "+pusherColumns+
		" FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3", userID, appID, pushKey).Scan)
	if err != nil {
		return Pusher{}, notFound(err)
	}
	return p, nil
}

// PushersOfKind returns every pusher of a kind, of users notified after
// stream position after (0: of every user). It may return a few more: the
// LIKE that looks for the user in the events' rows takes '_' in a user id
// for any character, and ignores ASCII case on SQLite.
func (db *DB) PushersOfKind(ctx context.Context, kind string, after int64) ([]Pusher, error) {
	if after <= 0 {
		return db.queryPushers(ctx, "SELECT "+pusherColumns+" FROM pushers WHERE kind = $1", kind)
	}
	return db.queryPushers(ctx, "SELECT "+pusherColumns+` FROM pushers WHERE kind = $1
		AND EXISTS (SELECT 1 FROM event_notifications n
			WHERE n.stream_pos > $2 AND n.users LIKE '%' || $3 || pushers.user_id || $4 || '%')`, kind, after, "\n", "\t")
}

func (db *DB) queryPushers(ctx context.Context, query string, args ...any) ([]Pusher, error) {
	var out []Pusher
	err := eachRow(ctx, db.read, query, args, func(scan func(...any) error) error {
		p, err := scanPusher(scan)
		out = append(out, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read pushers: %w", err)
	}
	return out, nil
}

// NotificationsAfter returns up to limit of a user's notifications with
// stream positions after after, oldest first, read ones included. next is
// where to continue: every notification of the user up to it is in ns, and
// 0 means none is left.
func (db *DB) NotificationsAfter(ctx context.Context, userID string, after int64, limit int) (ns []Notification, next int64, err error) {
	return db.scanNotifications(ctx, userID, after, true, limit, func(Notification) bool { return true })
}

// UnreadNotifications returns a user's unread notifications across all
// rooms and threads.
func (db *DB) UnreadNotifications(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := db.read.QueryRowContext(ctx, `SELECT COALESCE(SUM(notification_count), 0) FROM notification_counts
		WHERE user_id = $1 AND notification_count > 0`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("unread notifications of %s: %w", userID, err)
	}
	return n, nil
}

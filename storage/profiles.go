package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// Profile is a user's public profile.
type Profile struct {
	DisplayName *string
	AvatarURL   *string
}

// Profile returns a local user's profile, or ErrNotFound for an unknown
// user.
func (db *DB) Profile(ctx context.Context, localpart string) (Profile, error) {
	var name, avatar sql.NullString
	err := db.read.QueryRowContext(ctx,
		"SELECT displayname, avatar_url FROM profiles WHERE localpart = $1", localpart).Scan(&name, &avatar)
	if err != nil {
		return Profile{}, notFound(err)
	}
	var p Profile
	if name.Valid {
		p.DisplayName = &name.String
	}
	if avatar.Valid {
		p.AvatarURL = &avatar.String
	}
	return p, nil
}

// SetDisplayName sets (nil: removes) a user's display name.
func (tx *Tx) SetDisplayName(ctx context.Context, localpart string, name *string) error {
	return tx.setProfileField(ctx, "displayname", localpart, name)
}

// SetAvatarURL sets (nil: removes) a user's avatar.
func (tx *Tx) SetAvatarURL(ctx context.Context, localpart string, url *string) error {
	return tx.setProfileField(ctx, "avatar_url", localpart, url)
}

// setProfileField writes one column of profiles; column is a constant from
// the callers above, never user input.
func (tx *Tx) setProfileField(ctx context.Context, column, localpart string, value *string) error {
	res, err := tx.tx.ExecContext(ctx, "UPDATE profiles SET "+column+" = $2 WHERE localpart = $1", localpart, value)
	if err != nil {
		return fmt.Errorf("set %s of %s: %w", column, localpart, err)
	}
	return oneRow(res)
}

package storage

import (
	"context"
	"encoding/json"
	"fmt"
)

// CrossSigningKeys returns a user's cross-signing keys by type (master,
// self_signing, user_signing).
func (db *DB) CrossSigningKeys(ctx context.Context, userID string) (map[string]json.RawMessage, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT key_type, key_json FROM cross_signing_keys WHERE user_id = $1", userID)
	if err != nil {
		return nil, fmt.Errorf("cross-signing keys of %s: %w", userID, err)
	}
	defer rows.Close()
	out := map[string]json.RawMessage{}
	for rows.Next() {
		var typ, key string
		if err := rows.Scan(&typ, &key); err != nil {
			return nil, err
		}
		out[typ] = json.RawMessage(key)
	}
	return out, rows.Err()
}

// PutCrossSigningKey stores (replacing) one of a user's cross-signing keys.
func (tx *Tx) PutCrossSigningKey(ctx context.Context, userID, keyType string, key json.RawMessage) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO cross_signing_keys (user_id, key_type, key_json) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, key_type) DO UPDATE SET key_json = excluded.key_json`, userID, keyType, string(key))
	return err
}

// KeySignature is one signature over a key.
type KeySignature struct {
	TargetUser, TargetKeyID string
	SignerUser, SignerKeyID string
	Signature               string
}

// PutKeySignature stores a signature.
func (tx *Tx) PutKeySignature(ctx context.Context, s KeySignature) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO key_signatures (target_user, target_key_id, signer_user, signer_key_id, signature)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (target_user, target_key_id, signer_user, signer_key_id)
		DO UPDATE SET signature = excluded.signature`,
		s.TargetUser, s.TargetKeyID, s.SignerUser, s.SignerKeyID, s.Signature)
	return err
}

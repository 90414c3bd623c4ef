package roomserver

import (
	"bytes"
	"context"
	"errors"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/storage"
)

// Sent is the result of a send.
type Sent struct {
	EventID   string
	StreamPos int64
}

// Send builds, checks and stores one event from a local user, and returns
// after the commit. A send with a transaction key that was used before
// returns the event of the first send; so does a state event that repeats
// the current one (same sender, same content), which would change nothing.
func (r *Roomserver) Send(ctx context.Context, p Proto) (Sent, error) {
	unlock := r.locks.lock(p.RoomID)
	defer unlock()
	if p.Txn != nil {
		id, err := r.db.TxnEvent(ctx, p.Txn.Localpart, p.Txn.DeviceID, p.Txn.TxnID)
		if err == nil {
			return Sent{EventID: id}, nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return Sent{}, err
		}
	}
	ri, err := r.room(ctx, p.RoomID)
	if err != nil {
		return Sent{}, err
	}
	if same, err := r.sameState(ctx, ri, p); err != nil || same != "" {
		return Sent{EventID: same}, err
	}
	b := r.newBatch(ri)
	pdu, err := b.add(ctx, p)
	if err != nil {
		return Sent{}, err
	}
	outs, err := b.commit(ctx)
	if err != nil {
		return Sent{}, err
	}
	return Sent{EventID: pdu.EventID(), StreamPos: outs[0].StreamPos}, nil
}

// sameState returns the id of the current state event that p would
// merely repeat, or "".
func (r *Roomserver) sameState(ctx context.Context, ri *roomInfo, p Proto) (string, error) {
	if p.StateKey == nil || p.Txn != nil {
		return "", nil
	}
	current, err := r.stateEvent(ctx, ri, p.Type, *p.StateKey)
	if err != nil || current == nil || string(current.SenderID()) != p.Sender {
		return "", err
	}
	have, err1 := gmsl.CanonicalJSON(current.Content())
	want, err2 := gmsl.CanonicalJSON(p.Content)
	if err1 != nil || err2 != nil || !bytes.Equal(have, want) {
		return "", nil
	}
	return current.EventID(), nil
}

package roomserver

import (
	"context"
	"errors"

	"github.com/ganglion/ganglion/storage"
)

// Sent is the result of a send.
type Sent struct {
	EventID   string
	StreamPos int64
}

// Send builds, checks and stores one event from a local user, and returns
// after the commit. A send with a transaction key that was used before
// returns the event of the first send.
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

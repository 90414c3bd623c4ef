package roomserver

import (
	"context"

	"github.com/ganglion/ganglion/storage"
)

// commit stores the batch's events in one transaction, through the path
// every event takes (writeEvents).
func (b *batch) commit(ctx context.Context) ([]Output, error) {
	if len(b.events) == 0 {
		return nil, nil
	}
	writes := make([]write, len(b.events))
	for i, pe := range b.events {
		writes[i] = write{pdu: pe.pdu, status: storage.StatusAccepted, txn: pe.txn, linear: true}
	}
	return b.r.writeEvents(ctx, b.ri, writes)
}

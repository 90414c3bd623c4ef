package roomserver

import "context"

// StreamEvents returns up to limit accepted timeline events of every room
// with stream positions in (after, upto], oldest first: the read side for
// consumers that follow the whole events stream (push rule evaluation).
func (r *Roomserver) StreamEvents(ctx context.Context, after, upto int64, limit int) ([]Event, error) {
	rows, err := r.db.EventsInStream(ctx, after, upto, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(rows))
	for _, row := range rows {
		pdu, ok := r.pdus.get(row.NID)
		if !ok {
			if pdu, err = r.parseStored(ctx, row); err != nil {
				return nil, err
			}
			r.pdus.put(row.NID, pdu)
		}
		out = append(out, Event{PDU: pdu, StreamPos: row.StreamPos, Status: row.Status, before: row.BeforeSnapshot})
	}
	return out, nil
}

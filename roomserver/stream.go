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
	return r.fromRows(ctx, rows)
}

package roomserver

import (
	"bytes"
	"context"
	"errors"
	"sync"

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
//
// Sends to one room are serialised, and each waited for the commit of the
// one before: ten members talking at once made a queue of ten commits.
// Sends that arrive while a room is busy are now built one after another
// into one batch, committed together, each still checked on its own.
func (r *Roomserver) Send(ctx context.Context, p Proto) (Sent, error) {
	req := &sendReq{ctx: ctx, p: p, done: make(chan struct{})}
	if r.sends.enqueue(req) {
		go r.drainSends(p.RoomID)
	}
	select {
	case <-req.done:
		return req.sent, req.err
	case <-ctx.Done(): // it may still be stored: the client retries with its transaction id
		return Sent{}, ctx.Err()
	}
}

// maxSendBatch bounds the sends built into one batch.
const maxSendBatch = 64

// sendReq is one Send waiting for its room.
type sendReq struct {
	ctx  context.Context
	p    Proto
	pdu  gmsl.PDU
	sent Sent
	err  error
	done chan struct{}
}

func (q *sendReq) finish(sent Sent, err error) {
	q.sent, q.err = sent, err
	close(q.done)
}

// sendQueues holds the sends waiting per room. The zero value is ready.
type sendQueues struct {
	mu      sync.Mutex
	pending map[string][]*sendReq // room id -> waiting sends; present while drained
}

// enqueue adds a send and reports whether its room needs a drainer.
func (s *sendQueues) enqueue(q *sendReq) (start bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		s.pending = map[string][]*sendReq{}
	}
	waiting, draining := s.pending[q.p.RoomID]
	s.pending[q.p.RoomID] = append(waiting, q)
	return !draining
}

// next takes up to maxSendBatch waiting sends of the room; none means the
// drainer is done and the room forgotten.
func (s *sendQueues) next(roomID string) []*sendReq {
	s.mu.Lock()
	defer s.mu.Unlock()
	waiting := s.pending[roomID]
	if len(waiting) == 0 {
		delete(s.pending, roomID)
		return nil
	}
	n := min(len(waiting), maxSendBatch)
	s.pending[roomID] = waiting[n:]
	return waiting[:n:n]
}

// drainSends stores the room's waiting sends, a batch at a time, until
// none is left.
func (r *Roomserver) drainSends(roomID string) {
	for reqs := r.sends.next(roomID); reqs != nil; reqs = r.sends.next(roomID) {
		r.sendBatch(roomID, reqs)
	}
}

// sendBatch builds the sends into one batch under the room's lock and
// commits it. A send that fails its checks fails alone; if the commit
// fails, each send is tried again alone, so that one bad event cannot
// fail the others.
func (r *Roomserver) sendBatch(roomID string, reqs []*sendReq) {
	added, dups, err := r.commitSends(roomID, reqs)
	if err != nil && len(added) > 1 {
		for _, q := range added {
			q.pdu = nil
			r.sendBatch(roomID, []*sendReq{q})
		}
	} else {
		for _, q := range added {
			q.finish(q.sent, err)
		}
	}
	for dup, first := range dups {
		<-first.done
		dup.finish(first.sent, first.err)
	}
}

// commitSends builds the sends into one batch and commits it. It finishes
// the sends that fail their checks or repeat something stored; it returns
// those it added (their sent set if err is nil) and retries of a send of
// the batch by its transaction id, mapped to the first.
func (r *Roomserver) commitSends(roomID string, reqs []*sendReq) (added []*sendReq, dups map[*sendReq]*sendReq, err error) {
	ctx := context.WithoutCancel(reqs[0].ctx)
	unlock := r.locks.lock(roomID)
	defer unlock()
	ri, err := r.room(ctx, roomID)
	if err != nil {
		for _, q := range reqs {
			q.finish(Sent{}, err)
		}
		return nil, nil, nil
	}
	b := r.newBatch(ri)
	dups = map[*sendReq]*sendReq{}
	txns := map[TxnKey]*sendReq{}
	for _, q := range reqs {
		if err := q.ctx.Err(); err != nil {
			q.finish(Sent{}, err)
			continue
		}
		if q.p.Txn != nil {
			if first, ok := txns[*q.p.Txn]; ok {
				dups[q] = first
				continue
			}
			id, err := r.db.TxnEvent(ctx, q.p.Txn.Localpart, q.p.Txn.DeviceID, q.p.Txn.TxnID)
			if err == nil {
				q.finish(Sent{EventID: id}, nil)
				continue
			}
			if !errors.Is(err, storage.ErrNotFound) {
				q.finish(Sent{}, err)
				continue
			}
		}
		if same, err := b.sameState(ctx, q.p); err != nil || same != "" {
			q.finish(Sent{EventID: same}, err)
			continue
		}
		pdu, err := b.add(ctx, q.p)
		if err != nil {
			q.finish(Sent{}, err)
			continue
		}
		q.pdu = pdu
		added = append(added, q)
		if q.p.Txn != nil {
			txns[*q.p.Txn] = q
		}
	}
	outs, err := b.commit(ctx)
	if err != nil {
		return added, dups, err
	}
	pos := make(map[string]int64, len(outs))
	for _, o := range outs {
		pos[o.EventID] = o.StreamPos
	}
	for _, q := range added {
		q.sent = Sent{EventID: q.pdu.EventID(), StreamPos: pos[q.pdu.EventID()]}
	}
	return added, dups, nil
}

// sameState returns the id of the state event that p would merely repeat
// (set by the batch or current), or "".
func (b *batch) sameState(ctx context.Context, p Proto) (string, error) {
	if p.StateKey == nil || p.Txn != nil {
		return "", nil
	}
	current := b.pending[gmsl.StateKeyTuple{EventType: p.Type, StateKey: *p.StateKey}]
	if current == nil {
		var err error
		if current, err = b.r.stateEvent(ctx, b.ri, p.Type, *p.StateKey); err != nil || current == nil {
			return "", err
		}
	}
	if string(current.SenderID()) != p.Sender {
		return "", nil
	}
	have, err1 := gmsl.CanonicalJSON(current.Content())
	want, err2 := gmsl.CanonicalJSON(p.Content)
	if err1 != nil || err2 != nil || !bytes.Equal(have, want) {
		return "", nil
	}
	return current.EventID(), nil
}

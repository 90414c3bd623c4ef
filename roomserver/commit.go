package roomserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// commit persists the batch in one transaction: each event with its stream
// position and state snapshots, the new current state and memberships, the
// forward extremities, client transaction ids and redactions. Only after
// the commit does the room's cached view change and do subscribers hear of
// the events.
func (b *batch) commit(ctx context.Context) ([]Output, error) {
	if len(b.events) == 0 {
		return nil, nil
	}
	typeNIDs, keyNIDs, err := b.nids(ctx)
	if err != nil {
		return nil, err
	}
	ri := b.ri
	var (
		outs     []Output
		stored   = make(map[storage.EventNID]gmsl.PDU, len(b.events))
		redacted []storage.EventNID
	)
	err = b.r.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		outs, redacted = outs[:0], redacted[:0]
		if ri.nid == 0 {
			nid, err := tx.InsertRoom(ctx, ri.id, string(ri.version.Version()))
			if errors.Is(err, storage.ErrExists) {
				return fmt.Errorf("room %s: %w", ri.id, err)
			}
			if err != nil {
				return err
			}
			ri.nid = nid
		}
		for _, pe := range b.events {
			out, nid, err := b.persist(ctx, tx, pe, typeNIDs, keyNIDs)
			if err != nil {
				return err
			}
			stored[nid] = pe.pdu
			outs = append(outs, out)
			if pe.pdu.Type() == spec.MRoomRedaction {
				target, err := b.redact(ctx, tx, pe.pdu)
				if err != nil {
					return err
				}
				if target != 0 {
					redacted = append(redacted, target)
				}
			}
		}
		if err := tx.SetRoomSnapshot(ctx, ri.nid, ri.snapshot); err != nil {
			return err
		}
		return tx.SetForwardExtremities(ctx, ri.nid, []storage.EventNID{ri.extremities[0].nid})
	})
	if err != nil {
		return nil, err
	}
	b.r.rooms.put(ri)
	b.r.versions.Store(ri.nid, ri.version)
	for nid, pdu := range stored {
		b.r.pdus.put(nid, pdu)
	}
	for _, nid := range redacted {
		b.r.pdus.drop(nid)
	}
	b.r.notify(ctx, outs)
	return outs, nil
}

// nids returns the type and state key NIDs the batch needs, creating new
// ones in their own transactions before the batch's.
func (b *batch) nids(ctx context.Context) (map[string]storage.TypeNID, map[string]storage.StateKeyNID, error) {
	var types, keys []string
	for _, pe := range b.events {
		types = append(types, pe.pdu.Type())
		if sk := pe.pdu.StateKey(); sk != nil {
			keys = append(keys, *sk)
		}
	}
	typeNIDs, err := b.r.db.TypeNIDs(ctx, types)
	if err != nil {
		return nil, nil, err
	}
	keyNIDs, err := b.r.db.StateKeyNIDs(ctx, keys)
	return typeNIDs, keyNIDs, err
}

// persist writes one event and its effect on the room's state.
func (b *batch) persist(ctx context.Context, tx *storage.Tx, pe pendingEvent,
	typeNIDs map[string]storage.TypeNID, keyNIDs map[string]storage.StateKeyNID,
) (Output, storage.EventNID, error) {
	ri, pdu := b.ri, pe.pdu
	pos, err := tx.NextStreamPos(ctx, "events")
	if err != nil {
		return Output{}, 0, err
	}
	row := storage.Event{
		Room: ri.nid, ID: pdu.EventID(), Type: typeNIDs[pdu.Type()],
		Sender: string(pdu.SenderID()), Depth: pdu.Depth(), OriginTS: int64(pdu.OriginServerTS()),
		Status: storage.StatusAccepted, StreamPos: pos,
		BeforeSnapshot: ri.snapshot, AfterSnapshot: ri.snapshot, JSON: pdu.JSON(),
	}
	sk := pdu.StateKey()
	if sk != nil {
		row.StateKey = keyNIDs[*sk]
	}
	nid, err := tx.InsertEvent(ctx, row)
	if err != nil {
		return Output{}, 0, err
	}
	out := Output{RoomID: ri.id, EventID: pdu.EventID(), Type: pdu.Type(), StateKey: sk,
		Sender: string(pdu.SenderID()), StreamPos: pos}
	if sk != nil {
		change := []storage.StateEntry{{Type: row.Type, Key: row.StateKey, Event: nid}}
		after, err := tx.StoreSnapshot(ctx, ri.snapshot, change)
		if err != nil {
			return Output{}, 0, err
		}
		if err := tx.SetEventAfterSnapshot(ctx, nid, after); err != nil {
			return Output{}, 0, err
		}
		if err := tx.SetCurrentState(ctx, ri.nid, change); err != nil {
			return Output{}, 0, err
		}
		ri.snapshot = after
		ri.state[gmsl.StateKeyTuple{EventType: pdu.Type(), StateKey: *sk}] = nid
		if pdu.Type() == spec.MRoomMember {
			if out.Membership, err = pdu.Membership(); err != nil {
				return Output{}, 0, err
			}
			if err := tx.SetMembership(ctx, storage.Membership{
				Room: ri.nid, UserID: *sk, Membership: out.Membership, Event: nid, StreamPos: pos,
			}); err != nil {
				return Output{}, 0, err
			}
		}
	}
	ri.extremities = []extremity{{nid: nid, id: pdu.EventID(), depth: pdu.Depth()}}
	if pe.txn != nil {
		if err := tx.InsertTxn(ctx, pe.txn.Localpart, pe.txn.DeviceID, pe.txn.TxnID, pdu.EventID()); err != nil {
			return Output{}, 0, fmt.Errorf("record transaction: %w", err)
		}
	}
	return out, nid, nil
}

// redact applies an accepted redaction to its target, if the server has
// it: the stored JSON becomes the redacted form. Returns the target's NID,
// or 0 if there was nothing to redact.
func (b *batch) redact(ctx context.Context, tx *storage.Tx, redaction gmsl.PDU) (storage.EventNID, error) {
	target, err := tx.EventByID(ctx, redaction.Redacts())
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (target.Room != b.ri.nid || target.RedactedBy != "")) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	stripped, err := b.ri.version.RedactEventJSON(target.JSON)
	if err != nil {
		return 0, fmt.Errorf("redact %s: %w", target.ID, err)
	}
	stripped, err = withRedactedBecause(stripped, redaction)
	if err != nil {
		return 0, err
	}
	return target.NID, tx.SetEventRedacted(ctx, target.NID, redaction.EventID(), stripped)
}

// withRedactedBecause records the redaction in the event's unsigned data,
// as clients expect to find it.
func withRedactedBecause(eventJSON []byte, redaction gmsl.PDU) ([]byte, error) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(eventJSON, &ev); err != nil {
		return nil, err
	}
	unsigned, err := json.Marshal(map[string]json.RawMessage{"redacted_because": redaction.JSON()})
	if err != nil {
		return nil, err
	}
	ev["unsigned"] = unsigned
	return json.Marshal(ev)
}

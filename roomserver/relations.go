package roomserver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/storage"
)

// Relation types with server-side behaviour.
const (
	RelThread    = "m.thread"
	RelReplace   = "m.replace"
	RelReference = "m.reference"
)

// relatesTo reads content.m.relates_to: the related event and relation
// type, or ok false.
func relatesTo(content []byte) (parentID, relType string, ok bool) {
	var c struct {
		RelatesTo *struct {
			EventID string `json:"event_id"`
			RelType string `json:"rel_type"`
		} `json:"m.relates_to"`
	}
	if json.Unmarshal(content, &c) != nil || c.RelatesTo == nil || c.RelatesTo.EventID == "" || c.RelatesTo.RelType == "" {
		return "", "", false
	}
	return c.RelatesTo.EventID, c.RelatesTo.RelType, true
}

// indexRelation records the relation of an accepted event, if it has one.
func indexRelation(ctx context.Context, tx *storage.Tx, room storage.RoomNID, nid storage.EventNID, pdu gmsl.PDU, pos int64) error {
	parent, relType, ok := relatesTo(pdu.Content())
	if !ok {
		return nil
	}
	return tx.InsertRelation(ctx, storage.Relation{
		Event: nid, Room: room, ParentID: parent, RelType: relType, Type: pdu.Type(),
		Sender: string(pdu.SenderID()), StreamPos: pos,
	})
}

// RelationsQuery selects the children of an event for /relations.
type RelationsQuery struct {
	RoomID, ParentID string
	RelType, Type    string // "" for any
	After, Before    int64  // stream positions, exclusive, 0 open
	Limit            int
	Backwards        bool
	Recurse          bool // follow relations of relations (up to maxRelationDepth)
}

// maxRelationDepth bounds recursive /relations.
const maxRelationDepth = 3

// Relations returns the events that relate to an event (newest first when
// backwards), and how deep it followed relations. A recursive query walks
// every relation of relations first and applies the relation type, event
// type and position range to what it found, so that an event in range is
// found through a parent out of it.
func (r *Roomserver) Relations(ctx context.Context, q RelationsQuery) ([]Event, int, error) {
	room, err := r.roomRow(ctx, q.RoomID)
	if err != nil {
		return nil, 0, err
	}
	var rels []storage.Relation
	depth := 1
	if q.Recurse {
		if rels, depth, err = r.relationTree(ctx, room.NID, q.ParentID); err != nil {
			return nil, 0, err
		}
		rels = slices.DeleteFunc(rels, func(rel storage.Relation) bool {
			return (q.RelType != "" && rel.RelType != q.RelType) || (q.Type != "" && rel.Type != q.Type) ||
				(q.After != 0 && rel.StreamPos <= q.After) || (q.Before != 0 && rel.StreamPos >= q.Before)
		})
	} else {
		found, err := r.db.Relations(ctx, storage.RelationQuery{
			ParentIDs: []string{q.ParentID}, RelType: q.RelType, Type: q.Type,
			After: q.After, Before: q.Before, Backwards: q.Backwards,
		})
		if err != nil {
			return nil, 0, err
		}
		for _, rel := range found {
			if rel.Room == room.NID {
				rels = append(rels, rel)
			}
		}
	}
	sortRelations(rels, q.Backwards)
	if q.Limit > 0 && len(rels) > q.Limit {
		rels = rels[:q.Limit]
	}
	out, err := r.relationEvents(ctx, rels)
	return out, depth, err
}

// relationTree returns every relation in the room under the event, down to
// maxRelationDepth levels, and the depth it reached.
func (r *Roomserver) relationTree(ctx context.Context, room storage.RoomNID, parentID string) ([]storage.Relation, int, error) {
	var rels []storage.Relation
	seen := map[string]bool{parentID: true}
	parents, depth := []string{parentID}, 1
	for {
		found, err := r.db.Relations(ctx, storage.RelationQuery{ParentIDs: parents})
		if err != nil {
			return nil, 0, err
		}
		parents = nil
		for _, rel := range found {
			if rel.Room == room && !seen[rel.EventID] {
				seen[rel.EventID] = true
				rels = append(rels, rel)
				parents = append(parents, rel.EventID)
			}
		}
		if len(parents) == 0 || depth == maxRelationDepth {
			return rels, depth, nil
		}
		depth++
	}
}

// relationEvents returns the relating events of rels in their order, with
// the state before each, which history visibility and the unsigned fields
// read.
func (r *Roomserver) relationEvents(ctx context.Context, rels []storage.Relation) ([]Event, error) {
	nids := make([]storage.EventNID, len(rels))
	for i, rel := range rels {
		nids[i] = rel.Event
	}
	rows, err := r.db.EventsByNID(ctx, nids)
	if err != nil {
		return nil, err
	}
	byNID := make(map[storage.EventNID]storage.Event, len(rows))
	for _, row := range rows {
		byNID[row.NID] = row
	}
	ordered := make([]storage.Event, 0, len(rels))
	for _, rel := range rels {
		if row, ok := byNID[rel.Event]; ok {
			ordered = append(ordered, row)
		}
	}
	return r.fromRows(ctx, ordered)
}

// sortRelations orders relations found over several depths by stream
// position.
func sortRelations(rels []storage.Relation, backwards bool) {
	slices.SortFunc(rels, func(a, b storage.Relation) int {
		if backwards {
			return cmp.Compare(b.StreamPos, a.StreamPos)
		}
		return cmp.Compare(a.StreamPos, b.StreamPos)
	})
}

// Aggregation is what the server bundles into an event's
// unsigned.m.relations.
type Aggregation struct {
	ThreadCount        int
	ThreadLatest       gmsl.PDU
	ThreadParticipated bool
	References         []string
	Replace            gmsl.PDU // the latest edit by the original sender
}

// Aggregations returns the aggregations of the events that have any, by
// event id, as seen by userID (for current_user_participated).
func (r *Roomserver) Aggregations(ctx context.Context, userID string, events []gmsl.PDU) (map[string]*Aggregation, error) {
	if len(events) == 0 {
		return nil, nil
	}
	ids := make([]string, len(events))
	senders := make(map[string]string, len(events))
	for i, e := range events {
		ids[i], senders[e.EventID()] = e.EventID(), string(e.SenderID())
	}
	out := map[string]*Aggregation{}
	get := func(id string) *Aggregation {
		if out[id] == nil {
			out[id] = &Aggregation{}
		}
		return out[id]
	}
	rels, err := r.db.Relations(ctx, storage.RelationQuery{ParentIDs: ids, RelType: RelThread})
	if err != nil {
		return nil, err
	}
	latest := map[string]storage.EventNID{}
	for _, rel := range rels {
		a := get(rel.ParentID)
		a.ThreadCount++
		a.ThreadParticipated = a.ThreadParticipated || rel.Sender == userID || senders[rel.ParentID] == userID
		latest[rel.ParentID] = rel.Event // ascending order: the last is the latest
	}
	for id, nid := range latest {
		pdus, err := r.events(ctx, []storage.EventNID{nid})
		if err != nil {
			return nil, err
		}
		out[id].ThreadLatest = pdus[0]
	}
	if rels, err = r.db.Relations(ctx, storage.RelationQuery{ParentIDs: ids, RelType: RelReference}); err != nil {
		return nil, err
	}
	for _, rel := range rels {
		a := get(rel.ParentID)
		a.References = append(a.References, rel.EventID)
	}
	if rels, err = r.db.Relations(ctx, storage.RelationQuery{ParentIDs: ids, RelType: RelReplace}); err != nil {
		return nil, err
	}
	edits := map[string]storage.EventNID{}
	for _, rel := range rels {
		if rel.Sender == senders[rel.ParentID] {
			edits[rel.ParentID] = rel.Event
		}
	}
	for id, nid := range edits {
		pdus, err := r.events(ctx, []storage.EventNID{nid})
		if err != nil {
			return nil, err
		}
		get(id).Replace = pdus[0]
	}
	return out, nil
}

// Threads returns a room's thread roots, most recently active first: those
// whose latest activity is before position before (0: open), at most
// limit, only those the participant took part in if it is set. next is
// the position to continue from, 0 at the end.
func (r *Roomserver) Threads(ctx context.Context, roomID, participant string, before int64, limit int) (roots []Event, next int64, err error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return nil, 0, err
	}
	found, err := r.db.ThreadRoots(ctx, room.NID, participant, before, limit+1)
	if err != nil {
		return nil, 0, err
	}
	if len(found) > limit {
		found = found[:limit]
		next = found[limit-1].Latest
	}
	for _, t := range found {
		ev, err := r.Event(ctx, t.RootID)
		if errors.Is(err, ErrEventNotFound) {
			continue // a thread on an event the server does not have
		}
		if err != nil {
			return nil, 0, err
		}
		roots = append(roots, ev)
	}
	return roots, next, nil
}

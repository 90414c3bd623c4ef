package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// batchSize bounds the events evaluated in one transaction.
const batchSize = 100

// catchUp evaluates every event up to the current end of the events
// stream, a batch per transaction.
func (e *Evaluator) catchUp(ctx context.Context) error {
	for {
		end, err := e.db.StreamPos(ctx, "events")
		if err != nil {
			return err
		}
		from := e.Processed()
		if end <= from {
			return nil
		}
		events, err := e.rooms.StreamEvents(ctx, from, end, batchSize)
		if err != nil {
			return err
		}
		upto := end
		if len(events) == batchSize {
			upto = events[len(events)-1].StreamPos
		}
		done, err := e.evaluateBatch(ctx, from, events, upto)
		if err != nil {
			return err
		}
		e.advance(done)
	}
}

// evaluateBatch evaluates the events after position from up to upto and
// commits their notifications, the read markings they imply and the new
// position in one transaction. Their counts are published in memory (see
// Counts) before the transaction starts. It returns the position
// evaluated now: upto, or further if another process's evaluator got
// there first (its work is kept, this batch's dropped).
func (e *Evaluator) evaluateBatch(ctx context.Context, from int64, events []roomserver.Event, upto int64) (int64, error) {
	var notes, reads []storage.Notification
	f := newFlight()
	for _, ev := range events {
		ns, rs, err := e.evaluate(ctx, ev)
		if err != nil {
			return 0, fmt.Errorf("evaluate %s: %w", ev.EventID(), err)
		}
		for _, n := range ns {
			f.add(n)
		}
		for _, r := range rs {
			f.read(r)
		}
		notes = append(notes, ns...)
		reads = append(reads, rs...)
	}
	e.mu.Lock()
	e.flight = f
	moved := e.publishLocked(upto)
	e.mu.Unlock()
	e.told(moved, upto)
	if err := e.readBases(ctx, f); err != nil {
		e.land(f)
		return 0, err
	}
	notesOf := map[userRoom][]storage.Notification{} // for the read markings
	if len(reads) > 0 {
		for _, n := range notes {
			k := userRoom{n.UserID, n.RoomID}
			notesOf[k] = append(notesOf[k], n)
		}
	}
	reads = f.changing(reads, notesOf)
	done, stored := upto, true
	err := e.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		pos, err := tx.LockPushPos(ctx)
		if err != nil {
			return err
		}
		if pos > from { // another process evaluated and stored these events
			done = pos
			e.land(f)
			stored = false
			return nil
		}
		if err := tx.AddNotifications(ctx, notes); err != nil {
			return err
		}
		for _, r := range reads { // every stored notification is before the batch
			if _, err := tx.MarkNotificationsReadBefore(ctx, r.UserID, r.RoomID, r.ThreadID, r.StreamPos,
				after(notesOf[userRoom{r.UserID, r.RoomID}], r.StreamPos)); err != nil {
				return err
			}
		}
		if err := tx.SetPushPos(ctx, upto); err != nil {
			return err
		}
		e.mu.Lock()
		f.committing = true // from here the stored counts may include the batch
		e.mu.Unlock()
		return nil
	})
	if err == nil && stored {
		e.cacheStored(f)
	}
	e.land(f)
	return done, err
}

// after counts, per thread, the notifications of notes (one user's in one
// room) after position pos.
func after(notes []storage.Notification, pos int64) map[string]storage.ThreadCounts {
	out := map[string]storage.ThreadCounts{}
	for _, n := range notes {
		if n.StreamPos <= pos {
			continue
		}
		c := out[n.ThreadID]
		c.ThreadID = n.ThreadID
		c.Notify++
		if n.Highlight {
			c.Highlights++
		}
		out[n.ThreadID] = c
	}
	return out
}

// land ends a flight: stored, failed or dropped, Counts reads the stored
// counts alone from now on.
func (e *Evaluator) land(f *flight) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.flight == f {
		e.flight = nil
		close(f.landed)
	}
}

// evaluate matches one event against the rules of the room's local joined
// members but its sender, and returns their notifications and the read
// markings the event implies (as notifications up to the event): sending
// an event reads its thread up to it (Push Notifications, "Marking
// notifications as read"), and leaving a room drops its counts.
func (e *Evaluator) evaluate(ctx context.Context, ev roomserver.Event) (notes, reads []storage.Notification, err error) {
	roomID, sender := ev.RoomID().String(), string(ev.SenderID())
	total, local, err := e.joinedLocal(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	members := make([]storage.Membership, 0, len(local))
	for _, m := range local {
		if m.UserID != sender {
			members = append(members, m)
		}
	}
	if len(members) > 0 {
		if notes, err = e.match(ctx, ev, total, members); err != nil {
			return nil, nil, err
		}
	}
	if e.isLocal(sender) {
		reads = append(reads, storage.Notification{UserID: sender, RoomID: roomID, StreamPos: ev.StreamPos})
	}
	if len(notes) > 0 || len(reads) > 0 {
		thread, err := e.threadOf(ctx, ev.Content())
		if err != nil {
			return nil, nil, err
		}
		for i := range notes {
			notes[i].ThreadID = thread
		}
		for i := range reads {
			reads[i].ThreadID = thread
		}
	}
	if left := e.leaver(ev); left != "" {
		reads = append(reads, storage.Notification{UserID: left, RoomID: roomID, StreamPos: ev.StreamPos})
	}
	return notes, reads, nil
}

func (e *Evaluator) isLocal(userID string) bool { return strings.HasSuffix(userID, ":"+e.serverName) }

// leaver returns the local user a membership event takes out of the room
// (leave or ban), or "".
func (e *Evaluator) leaver(ev roomserver.Event) string {
	target := ev.StateKey()
	if ev.Type() != spec.MRoomMember || target == nil || !e.isLocal(*target) {
		return ""
	}
	var content struct {
		Membership string `json:"membership"`
	}
	if json.Unmarshal(ev.Content(), &content) != nil || (content.Membership != spec.Leave && content.Membership != spec.Ban) {
		return ""
	}
	return *target
}

// match returns the notifications of the members whose rules match the
// event with a notify action.
func (e *Evaluator) match(ctx context.Context, ev roomserver.Event, total int, members []storage.Membership) ([]storage.Notification, error) {
	roomID, sender := ev.RoomID().String(), string(ev.SenderID())
	mev, err := NewEvent(ev.EventID(), roomID, sender, ev.Type(), ev.StateKey(), ev.Content())
	if err != nil { // content that is not an object notifies nobody
		e.log.WithError(err).WithField(logctx.FieldEventID, ev.EventID()).Warn("push: unreadable event content")
		return nil, nil
	}
	users := make([]string, len(members))
	for i, m := range members {
		users[i] = m.UserID
	}
	rules, err := e.compiledRules(ctx, users)
	if err != nil {
		return nil, err
	}
	state, loadErr := e.roomState(ctx, roomID, total, members)
	notes := make([]storage.Notification, 0, len(users))
	for _, u := range users {
		if rules[u].ignored[sender] {
			continue
		}
		res, ok := rules[u].Match(mev, state.For(u))
		if !ok || !res.Notify {
			continue
		}
		notes = append(notes, storage.Notification{
			UserID: u, StreamPos: ev.StreamPos, RoomID: roomID, EventID: ev.EventID(),
			Highlight: res.Highlight, Actions: res.Actions,
		})
	}
	if *loadErr != nil {
		return nil, *loadErr
	}
	return notes, nil
}

// roomState returns what conditions may ask about the room, loaded only if
// asked; the first load error is left in *loadErr.
func (e *Evaluator) roomState(ctx context.Context, roomID string, total int, members []storage.Membership) (*RoomState, *error) {
	loadErr := new(error)
	var (
		names       map[string]string
		power       *event.PowerLevelsEventContent
		powerLoaded bool
	)
	return &RoomState{
		Members: total,
		DisplayName: func(userID string) string {
			if names == nil {
				var err error
				if names, err = e.displayNames(ctx, members); err != nil && *loadErr == nil {
					*loadErr = err
				}
			}
			return names[userID]
		},
		PowerLevels: func() *event.PowerLevelsEventContent {
			if !powerLoaded {
				var err error
				if power, err = e.powerLevels(ctx, roomID); err != nil && *loadErr == nil {
					*loadErr = err
				}
				powerLoaded = true
			}
			return power
		},
	}, loadErr
}

// displayNames returns the members' display names in the room, from
// their member events, reading those not cached in one query.
func (e *Evaluator) displayNames(ctx context.Context, members []storage.Membership) (map[string]string, error) {
	var missing []storage.EventNID
	for _, m := range members {
		if _, ok := e.names[m.Event]; !ok {
			missing = append(missing, m.Event)
		}
	}
	if len(missing) > 0 {
		rows, err := e.db.EventsByNID(ctx, missing)
		if err != nil {
			return map[string]string{}, err
		}
		if len(e.names)+len(missing) > maxCachedNames {
			e.names = map[storage.EventNID]string{}
		}
		for _, nid := range missing {
			e.names[nid] = "" // unless its event says otherwise
		}
		for _, row := range rows {
			var ev struct {
				Content struct {
					DisplayName string `json:"displayname"`
				} `json:"content"`
			}
			_ = json.Unmarshal(row.JSON, &ev) // a member event without a usable name has none
			e.names[row.NID] = ev.Content.DisplayName
		}
	}
	out := make(map[string]string, len(members))
	for _, m := range members {
		out[m.UserID] = e.names[m.Event]
	}
	return out, nil
}

// powerLevels returns the room's current power levels, with its create
// event for room versions whose creators outrank everyone; nil if it has
// none.
func (e *Evaluator) powerLevels(ctx context.Context, roomID string) (*event.PowerLevelsEventContent, error) {
	pl, err := e.rooms.StateEvent(ctx, roomID, spec.MRoomPowerLevels, "")
	if errors.Is(err, roomserver.ErrEventNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var content event.PowerLevelsEventContent
	if err := json.Unmarshal(pl.Content(), &content); err != nil {
		return nil, nil // unreadable power levels grant nobody anything
	}
	create, err := e.rooms.StateEvent(ctx, roomID, spec.MRoomCreate, "")
	if err != nil {
		return nil, err
	}
	var cc event.CreateEventContent
	if json.Unmarshal(create.Content(), &cc) == nil {
		if cc.RoomVersion == "" {
			cc.RoomVersion = id.RoomV1
		}
		content.CreateEvent = &event.Event{
			Sender: id.UserID(create.SenderID()), Type: event.StateCreate, Content: event.Content{Parsed: &cc},
		}
	}
	return &content, nil
}

// maxThreadHops bounds how many relations threadOf follows, as the spec
// recommends.
const maxThreadHops = 3

// threadOf returns the thread an event belongs to: the root of the first
// m.thread relation found following its relations (up to maxThreadHops),
// or the main timeline.
func (e *Evaluator) threadOf(ctx context.Context, content json.RawMessage) (string, error) {
	parent, relType := relationOf(content)
	for hop := 1; parent != ""; hop++ {
		if relType == "m.thread" {
			return parent, nil
		}
		if hop == maxThreadHops {
			break
		}
		rel, err := e.db.RelationOf(ctx, parent)
		if errors.Is(err, storage.ErrNotFound) {
			break
		}
		if err != nil {
			return "", err
		}
		parent, relType = rel.ParentID, rel.RelType
	}
	return storage.MainThread, nil
}

// relationOf reads content's m.relates_to: the event related to and the
// relation type.
func relationOf(content json.RawMessage) (parent, relType string) {
	var c struct {
		RelatesTo struct {
			EventID string `json:"event_id"`
			RelType string `json:"rel_type"`
		} `json:"m.relates_to"`
	}
	if json.Unmarshal(content, &c) != nil {
		return "", ""
	}
	return c.RelatesTo.EventID, c.RelatesTo.RelType
}

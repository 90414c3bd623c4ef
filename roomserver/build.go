package roomserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// Proto is an event a local user wants to send.
type Proto struct {
	RoomID   string
	Sender   string // the user id of the sender
	Type     string
	StateKey *string
	Content  json.RawMessage
	Redacts  string
	// Txn, if set, makes the send idempotent: the same key returns the
	// event the first send made.
	Txn *TxnKey
}

// TxnKey identifies a client transaction.
type TxnKey struct {
	Localpart, DeviceID, TxnID string
}

// maxEventSize is the spec's limit on a whole event, as sent over
// federation.
const maxEventSize = 65536

// batch is a sequence of new local events for one room, built and checked
// against the room's state as it will be after the events before them, and
// persisted in one transaction. Its roomInfo is a private copy until
// commit.
type batch struct {
	r       *Roomserver
	ri      *roomInfo
	pending map[gmsl.StateKeyTuple]gmsl.PDU // state set by events of this batch
	events  []pendingEvent
}

type pendingEvent struct {
	pdu gmsl.PDU
	txn *TxnKey
}

func (r *Roomserver) newBatch(ri *roomInfo) *batch {
	return &batch{r: r, ri: ri.clone(), pending: map[gmsl.StateKeyTuple]gmsl.PDU{}}
}

// add builds the event, checks it against the auth rules and adds it to
// the batch.
func (b *batch) add(ctx context.Context, p Proto) (gmsl.PDU, error) {
	if err := checkProto(p); err != nil {
		return nil, err
	}
	proto := gmsl.ProtoEvent{
		SenderID: p.Sender,
		RoomID:   b.ri.id,
		Type:     p.Type,
		StateKey: p.StateKey,
		Content:  spec.RawJSON(p.Content),
		Redacts:  p.Redacts,
		Depth:    1,
	}
	prev := make([]string, 0, len(b.ri.extremities))
	for _, x := range b.ri.extremities {
		prev = append(prev, x.id)
		proto.Depth = max(proto.Depth, x.depth+1)
	}
	if len(b.events) > 0 {
		last := b.events[len(b.events)-1].pdu
		prev, proto.Depth = []string{last.EventID()}, last.Depth()+1
	}
	proto.PrevEvents = prev
	if p.Type == spec.MRoomCreate && b.ri.version.DomainlessRoomIDs() {
		proto.RoomID = ""
	}
	needed, err := gmsl.StateNeededForProtoEvent(&proto)
	if err != nil {
		return nil, &BadEventError{Reason: err.Error(), BadJSON: true}
	}
	auth, err := b.authEvents(ctx, needed)
	if err != nil {
		return nil, err
	}
	builder := b.ri.version.NewEventBuilderFromProtoEvent(&proto)
	if err := builder.AddAuthEvents(auth); err != nil {
		return nil, err
	}
	now := b.r.db.Now()
	pdu, fast, err := buildFast(builder, b.ri.version, now, b.r.serverName, b.r.keyID, b.r.key)
	if !fast {
		pdu, err = builder.Build(now, b.r.serverName, b.r.keyID, b.r.key)
	}
	if err != nil {
		return nil, &BadEventError{Reason: err.Error(), BadJSON: true}
	}
	// The event id is a hash of the redacted event, computed once and
	// kept: here, not inside the write transaction that every room waits on.
	_ = pdu.EventID()
	if len(pdu.JSON()) > maxEventSize {
		return nil, &BadEventError{Reason: fmt.Sprintf("event is larger than %d bytes", maxEventSize), TooBig: true}
	}
	if err := gmsl.Allowed(pdu, auth, userIDForSender); err != nil {
		return nil, notAllowed("%v", err)
	}
	if pdu.Type() == spec.MRoomRedaction {
		if err := b.checkRedaction(ctx, pdu, auth); err != nil {
			return nil, err
		}
	}
	b.events = append(b.events, pendingEvent{pdu: pdu, txn: p.Txn})
	if sk := pdu.StateKey(); sk != nil {
		b.pending[gmsl.StateKeyTuple{EventType: pdu.Type(), StateKey: *sk}] = pdu
	}
	return pdu, nil
}

// checkProto rejects malformed requests before any work.
func checkProto(p Proto) error {
	switch {
	case p.Type == "" || len(p.Type) > 255:
		return &BadEventError{Reason: "event type must be 1 to 255 bytes"}
	case p.StateKey != nil && len(*p.StateKey) > 255:
		return &BadEventError{Reason: "state key must be at most 255 bytes"}
	case len(p.Content) == 0 || p.Content[0] != '{':
		return &BadEventError{Reason: "content must be a JSON object", BadJSON: true}
	case len(p.Content) > maxEventSize:
		return &BadEventError{Reason: fmt.Sprintf("content is larger than %d bytes", maxEventSize), TooBig: true}
	case p.StateKey != nil && strings.HasPrefix(*p.StateKey, "@") && p.Type != spec.MRoomMember &&
		*p.StateKey != p.Sender:
		// The spec reserves state keys that are user ids to that user.
		return notAllowed("state key %s belongs to another user", *p.StateKey)
	}
	return nil
}

// authEvents collects the needed auth events from the batch's own state
// changes, then the room's current state.
func (b *batch) authEvents(ctx context.Context, needed gmsl.StateNeeded) (*gmsl.AuthEvents, error) {
	var (
		pdus []gmsl.PDU
		nids []storage.EventNID
	)
	for _, tuple := range needed.Tuples() {
		if e, ok := b.pending[tuple]; ok {
			pdus = append(pdus, e)
		} else if nid, ok := b.ri.state[tuple]; ok {
			nids = append(nids, nid)
		}
	}
	stored, err := b.r.events(ctx, nids)
	if err != nil {
		return nil, err
	}
	return gmsl.NewAuthEvents(append(pdus, stored...))
}

// checkRedaction applies the spec's rule for redactions sent by clients:
// the sender redacts its own events, or has the power level "redact".
func (b *batch) checkRedaction(ctx context.Context, redaction gmsl.PDU, auth *gmsl.AuthEvents) error {
	target, err := b.r.db.EventByID(ctx, redaction.Redacts())
	if err != nil {
		return ErrEventNotFound
	}
	if target.Room != b.ri.nid {
		return ErrEventNotFound
	}
	if target.Sender == string(redaction.SenderID()) {
		return nil
	}
	plEvent, err := auth.PowerLevels()
	if err != nil {
		return err
	}
	var levels gmsl.PowerLevelContent
	if plEvent != nil {
		pl, err := plEvent.PowerLevels()
		if err != nil {
			return err
		}
		levels = *pl
	} else {
		levels.Defaults()
	}
	if levels.UserLevel(redaction.SenderID()) < levels.Redact {
		return notAllowed("redacting others' events needs power level %d", levels.Redact)
	}
	return nil
}

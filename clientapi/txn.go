package clientapi

import (
	"context"
	"strings"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/syncapi"
)

// txnKey is the transaction key of a send or a redaction. A client's
// transaction ids are scoped to its device and the endpoint: the same id
// in another room, or for a redaction, makes a new event.
func txnKey(s *Session, endpoint, roomID, txnID string) *roomserver.TxnKey {
	return &roomserver.TxnKey{Localpart: s.Localpart, DeviceID: s.DeviceID, TxnID: endpoint + "/" + roomID + "/" + txnID}
}

// clientTxnID returns the client's transaction id from the stored key of
// an event in roomID.
func clientTxnID(stored, roomID string) (string, bool) {
	for _, endpoint := range []string{"send", "redact"} {
		if id, ok := strings.CutPrefix(stored, endpoint+"/"+roomID+"/"); ok {
			return id, true
		}
	}
	return "", false
}

// roomEvents are client events of one room.
type roomEvents struct {
	roomID string
	events []syncapi.ClientEvent
}

// setTxnIDs sets unsigned.transaction_id on the events that the session's
// device sent, so that the client can match them to its local echo: all
// the lists' events, with one read.
func (a *API) setTxnIDs(ctx context.Context, s *Session, lists ...roomEvents) error {
	if s.DeviceID == "" {
		return nil
	}
	var own []string
	for _, l := range lists {
		for _, ev := range l.events {
			if ev.Sender == s.UserID {
				own = append(own, ev.EventID)
			}
		}
	}
	if len(own) == 0 {
		return nil
	}
	txns, err := a.db.TxnIDs(ctx, s.Localpart, s.DeviceID, own)
	if err != nil {
		return err
	}
	for _, l := range lists {
		for i := range l.events {
			stored, ok := txns[l.events[i].EventID]
			if !ok {
				continue
			}
			if id, ok := clientTxnID(stored, l.roomID); ok {
				if err := l.events[i].SetUnsigned("transaction_id", id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// setSyncTxnIDs is setTxnIDs for the timelines of a /sync response, whose
// events name their room only by where they are.
func (a *API) setSyncTxnIDs(ctx context.Context, s *Session, resp *syncapi.Response) error {
	if resp == nil || resp.Rooms == nil || s.DeviceID == "" {
		return nil
	}
	var lists []roomEvents
	for roomID, room := range resp.Rooms.Join {
		lists = append(lists, roomEvents{roomID: roomID, events: room.Timeline.Events})
	}
	for roomID, room := range resp.Rooms.Leave {
		lists = append(lists, roomEvents{roomID: roomID, events: room.Timeline.Events})
	}
	return a.setTxnIDs(ctx, s, lists...)
}

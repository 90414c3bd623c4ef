package syncapi

import (
	"context"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// Receipt types.
const (
	ReceiptRead        = "m.read"
	ReceiptReadPrivate = "m.read.private"
)

// ephemeral returns, per joined room, the ephemeral events the user has
// not seen: who is typing (if it changed) and the receipts sent since.
func (run *syncRun) ephemeral(ctx context.Context, memberships []storage.UserMembership) (map[string][]any, error) {
	var joined []string
	for _, m := range memberships {
		if m.Membership.Membership == spec.Join && run.roomAllowed(m.RoomID) {
			joined = append(joined, m.RoomID)
		}
	}
	var f *RoomEventFilter
	if run.filter.Room != nil {
		f = run.filter.Room.Ephemeral
	}
	out := map[string][]any{}
	for _, roomID := range joined {
		if !f.AllowsSenderless(roomID, "m.typing") {
			continue
		}
		users, changed := run.s.typing.Since(roomID, run.since.Typing)
		if changed || (run.initial && len(users) > 0) {
			if users == nil {
				users = []string{}
			}
			out[roomID] = append(out[roomID], map[string]any{
				"type": "m.typing", "content": map[string]any{"user_ids": users},
			})
		}
	}
	if !run.initial && run.to.Receipts <= run.since.Receipts {
		return out, nil
	}
	receipts, err := run.s.db.ReceiptsSince(ctx, joined, run.since.Receipts, run.to.Receipts)
	if err != nil {
		return nil, err
	}
	byRoom := map[string]map[string]map[string]map[string]any{} // room -> event -> type -> user -> data
	for _, r := range receipts {
		if r.Type == ReceiptReadPrivate && r.UserID != run.req.UserID {
			continue // private receipts are for their owner only
		}
		events := byRoom[r.RoomID]
		if events == nil {
			events = map[string]map[string]map[string]any{}
			byRoom[r.RoomID] = events
		}
		types := events[r.EventID]
		if types == nil {
			types = map[string]map[string]any{}
			events[r.EventID] = types
		}
		users := types[r.Type]
		if users == nil {
			users = map[string]any{}
			types[r.Type] = users
		}
		data := map[string]any{"ts": r.TS}
		if r.ThreadID != "" {
			data["thread_id"] = r.ThreadID
		}
		users[r.UserID] = data
	}
	for roomID, content := range byRoom {
		if f.AllowsSenderless(roomID, "m.receipt") {
			out[roomID] = append(out[roomID], map[string]any{"type": "m.receipt", "content": content})
		}
	}
	return out, nil
}

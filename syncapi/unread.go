package syncapi

import (
	"context"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi/push"
)

// UnreadCounts are the unread notification counts of a room or a thread.
type UnreadCounts struct {
	Highlight    int64 `json:"highlight_count"`
	Notification int64 `json:"notification_count"`
}

// unread returns a joined room's unread notification counts, after the
// push evaluator has counted every event this response carries: the
// room's, and, if the timeline filter asks for unread_thread_notifications,
// the threads' separately (the room's are then the main timeline's only).
func (run *syncRun) unread(ctx context.Context, roomID string) (UnreadCounts, map[string]UnreadCounts, error) {
	run.s.push.WaitFor(ctx, run.to.Events) // counts a little stale rather than none
	counts, err := run.s.push.Counts(ctx, run.req.UserID, roomID)
	if err != nil {
		return UnreadCounts{}, nil, err
	}
	threaded := run.filter.Room != nil && run.filter.Room.Timeline != nil &&
		run.filter.Room.Timeline.UnreadThreadNotifications
	var (
		room    UnreadCounts
		threads map[string]UnreadCounts
	)
	for _, c := range counts {
		if threaded && c.ThreadID != storage.MainThread {
			if threads == nil {
				threads = map[string]UnreadCounts{}
			}
			threads[c.ThreadID] = UnreadCounts{Highlight: c.Highlights, Notification: c.Notify}
			continue
		}
		room.Highlight += c.Highlights
		room.Notification += c.Notify
	}
	return room, threads, nil
}

// withDefaultPushRules adds the server-default m.push_rules to the global
// account data of an initial sync when the user never changed them, so
// that clients reading their rules from /sync find them.
func (run *syncRun) withDefaultPushRules(global []accountDataEvent, stored []storage.AccountData) []accountDataEvent {
	if !run.initial || !run.filter.AccountData.Allows(push.RulesType, "") {
		return global
	}
	for _, d := range stored {
		if d.RoomID == "" && d.Type == push.RulesType {
			return global
		}
	}
	content, err := push.Defaults(run.req.UserID).AccountData()
	if err != nil {
		return global
	}
	return append(global, accountDataEvent{Type: push.RulesType, Content: content})
}

package syncapi

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// maxToDevicePerSync bounds the to-device messages of one response; the
// rest come with the next.
const maxToDevicePerSync = 100

// e2ee adds what encryption needs: to-device messages (deleted once the
// client acknowledges them by syncing past them), device list changes, and
// the device's key counts.
func (run *syncRun) e2ee(ctx context.Context, resp *Response) error {
	if err := run.toDevice(ctx, resp); err != nil {
		return err
	}
	lists, err := run.deviceLists(ctx)
	if err != nil {
		return err
	}
	resp.DeviceLists = lists
	counts, err := run.s.db.DeviceKeyCounts(ctx, run.req.UserID, run.req.DeviceID)
	resp.OneTimeKeysCount, resp.UnusedFallbackKeyTypes = counts.OneTime, counts.UnusedFallback
	return err
}

func (run *syncRun) toDevice(ctx context.Context, resp *Response) error {
	if run.req.DeviceID == "" {
		return nil
	}
	if run.since.ToDevice > run.s.acks.upTo(run.req.UserID, run.req.DeviceID) {
		// Delete what the client acknowledged, if anything (a read first
		// keeps most syncs free of writes).
		acked, err := run.s.db.ToDeviceMessages(ctx, run.req.UserID, run.req.DeviceID, 0, run.since.ToDevice, 1)
		if err != nil {
			return err
		}
		if len(acked) > 0 {
			err = run.s.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				return tx.AckToDeviceMessages(ctx, run.req.UserID, run.req.DeviceID, run.since.ToDevice)
			})
		}
		if err != nil {
			return err
		}
		run.s.acks.record(run.req.UserID, run.req.DeviceID, run.since.ToDevice)
	}
	if run.to.ToDevice <= run.since.ToDevice {
		return nil
	}
	limit := maxToDevicePerSync
	if run.toDeviceLimit > 0 && run.toDeviceLimit < limit {
		limit = run.toDeviceLimit
	}
	msgs, err := run.s.db.ToDeviceMessages(ctx, run.req.UserID, run.req.DeviceID, run.since.ToDevice, run.to.ToDevice, limit)
	if err != nil || len(msgs) == 0 {
		return err
	}
	events := make([]any, len(msgs))
	for i, m := range msgs {
		events[i] = map[string]any{"sender": m.Sender, "type": m.Type, "content": m.Content}
	}
	resp.ToDevice = &EventList{Events: events}
	if len(msgs) == limit {
		// Continue after the last one sent, not after the stream's end.
		next := run.to
		next.ToDevice = msgs[len(msgs)-1].StreamPos
		resp.NextBatch = next.String()
	}
	return nil
}

// maxTrackedAcks bounds the devices whose acknowledgements are remembered.
const maxTrackedAcks = 100000

// toDeviceAcks remembers, per device, the position up to which its
// acknowledged to-device messages are deleted, so that a sync with the
// same position does not look again. Forgetting (a restart, the bound)
// costs one read.
type toDeviceAcks struct {
	mu  sync.Mutex
	pos map[[2]string]int64
}

func (a *toDeviceAcks) upTo(userID, deviceID string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pos[[2]string{userID, deviceID}]
}

func (a *toDeviceAcks) record(userID, deviceID string, pos int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pos == nil || len(a.pos) >= maxTrackedAcks {
		a.pos = map[[2]string]int64{}
	}
	a.pos[[2]string{userID, deviceID}] = pos
}

// deviceLists reports users whose devices changed and who share a room
// with the user (itself included), users who newly share a room (their
// devices are new to the user: they joined one of its rooms, or it joined
// theirs), and users it no longer shares one with.
func (run *syncRun) deviceLists(ctx context.Context) (*DeviceLists, error) {
	if run.initial {
		return nil, nil
	}
	var (
		updated []string
		moves   []storage.MembershipChange
		err     error
	)
	if run.to.DeviceLists > run.since.DeviceLists {
		if updated, err = run.s.db.DeviceListChanges(ctx, run.since.DeviceLists, run.to.DeviceLists); err != nil {
			return nil, err
		}
	}
	if moves, err = run.membershipChanges(ctx); err != nil {
		return nil, err
	}
	if len(updated)+len(moves) == 0 {
		return nil, nil // the common case: no reads beyond these two
	}
	joinedWith, leftFrom, err := run.ownMoves(ctx, moves)
	if err != nil {
		return nil, err
	}
	candidates := slices.Concat(updated, leftFrom)
	for _, m := range moves {
		candidates = append(candidates, m.UserID)
	}
	shared, err := run.sharingRoom(ctx, candidates)
	if err != nil {
		return nil, err
	}
	changed, left := map[string]bool{}, map[string]bool{}
	for _, u := range joinedWith { // joined to a room the user is joined to
		changed[u] = true
	}
	for _, u := range updated {
		if shared[u] || u == run.req.UserID {
			changed[u] = true
		}
	}
	for _, u := range leftFrom {
		if !shared[u] {
			left[u] = true
		}
	}
	for _, m := range moves {
		switch {
		case m.UserID == run.req.UserID:
		case m.Membership == spec.Join && shared[m.UserID]:
			changed[m.UserID] = true
		case m.Membership != spec.Join && !shared[m.UserID]:
			left[m.UserID] = true
		}
	}
	if len(changed)+len(left) == 0 {
		return nil, nil
	}
	return &DeviceLists{Changed: slices.Sorted(maps.Keys(changed)), Left: slices.Sorted(maps.Keys(left))}, nil
}

// maxSharingBatch bounds the users asked about in one query (SQLite and
// PostgreSQL limit the parameters of a statement).
const maxSharingBatch = 1000

// sharingRoom is storage's SharingRoom for any number of candidates.
func (run *syncRun) sharingRoom(ctx context.Context, candidates []string) (map[string]bool, error) {
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	out := map[string]bool{}
	for batch := range slices.Chunk(candidates, maxSharingBatch) {
		shared, err := run.s.db.SharingRoom(ctx, run.req.UserID, batch)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, shared)
	}
	return out, nil
}

// ownMoves returns the members of the rooms the user itself joined and
// left in the range, if its own membership changed at all.
func (run *syncRun) ownMoves(ctx context.Context, moves []storage.MembershipChange) (joinedWith, leftFrom []string, err error) {
	if !slices.ContainsFunc(moves, func(m storage.MembershipChange) bool { return m.UserID == run.req.UserID }) {
		return nil, nil, nil
	}
	return run.s.db.RoommatesOfMoves(ctx, run.req.UserID, run.since.Events, run.to.Events)
}

// DeviceListChanges is /keys/changes: the device list changes for userID
// between two sync tokens.
func (s *Syncer) DeviceListChanges(ctx context.Context, userID string, from, to StreamToken) (DeviceLists, error) {
	run := &syncRun{s: s, req: Request{UserID: userID}, since: from, to: to, filter: &Filter{}}
	lists, err := run.deviceLists(ctx)
	if err != nil || lists == nil {
		return DeviceLists{}, err
	}
	return *lists, nil
}

package syncapi

import (
	"context"
	"sync"

	"github.com/ganglion/ganglion/storage"
)

// maxCachedMembershipLists bounds the users whose memberships are cached.
const maxCachedMembershipLists = 10000

// membershipCache keeps each user's list of room memberships, which every
// /sync of the user reads, until the Notifier tells a change of them.
type membershipCache struct {
	mu    sync.Mutex
	users map[string]cachedMemberships
}

type cachedMemberships struct {
	gen  uint64
	list []storage.UserMembership
}

// userMemberships returns the user's memberships, from the cache while no
// change was told since they were read. The list is shared: callers must
// not change it.
func (s *Syncer) userMemberships(ctx context.Context, userID string) ([]storage.UserMembership, error) {
	gen := s.notifier.membershipGeneration(userID)
	c := &s.memberships
	c.mu.Lock()
	cached, ok := c.users[userID]
	c.mu.Unlock()
	if ok && cached.gen == gen {
		return cached.list, nil
	}
	// Read after taking the generation: a change told during the read
	// makes the entry stale at once rather than never.
	list, err := s.db.UserMemberships(ctx, userID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.users == nil || len(c.users) >= maxCachedMembershipLists {
		c.users = map[string]cachedMemberships{}
	}
	c.users[userID] = cachedMemberships{gen: gen, list: list}
	c.mu.Unlock()
	return list, nil
}

// membershipChanges are the membership changes in the user's rooms within
// the response's range of room events, read once per response and only
// when a membership event was told in that range.
func (run *syncRun) membershipChanges(ctx context.Context) ([]storage.MembershipChange, error) {
	if run.moves.done {
		return run.moves.list, run.moves.err
	}
	run.moves.done = true
	if run.to.Events > run.since.Events && run.s.notifier.membershipsChangedAfter(run.since.Events) {
		run.moves.list, run.moves.err = run.s.db.MembershipChanges(ctx, run.req.UserID, run.since.Events, run.to.Events)
	}
	return run.moves.list, run.moves.err
}

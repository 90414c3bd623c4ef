package syncapi

import (
	"context"

	"github.com/ganglion/ganglion/storage"
)

// maxCachedMembershipLists bounds the users whose memberships are cached.
const maxCachedMembershipLists = 10000

// userMemberships returns the user's memberships, which every /sync of the
// user reads, from memory while the Notifier told no change of them since
// they were read (gencache). The list is shared: callers must not change
// it.
func (s *Syncer) userMemberships(ctx context.Context, userID string) ([]storage.UserMembership, error) {
	gen := s.notifier.membershipGens.Of(userID)
	if list, ok := s.memberships.Get(userID, gen); ok {
		return list, nil
	}
	list, err := s.db.UserMemberships(ctx, userID)
	if err != nil {
		return nil, err
	}
	s.memberships.Put(userID, gen, list)
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

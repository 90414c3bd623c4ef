package syncapi

import (
	"context"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// Ignored is the set of users a user ignores. The zero value ignores
// nobody.
type Ignored map[string]bool

// IgnoredUsers returns the users that userID ignores, as its account data
// lists them (through the push evaluator's cache). A list that is missing
// or malformed ignores nobody. The set is shared: callers must not change
// it.
func (s *Syncer) IgnoredUsers(ctx context.Context, userID string) (Ignored, error) {
	return s.push.Ignored(ctx, userID)
}

// Hides reports whether the event is left out for the user: it was sent
// by an ignored user and is not a state event (state events reach clients
// whoever sent them, so that rooms look the same to everyone).
func (ig Ignored) Hides(ev gmsl.PDU) bool {
	return len(ig) > 0 && ev.StateKey() == nil && ig[string(ev.SenderID())]
}

// invitedByIgnored reports whether the user's invite to the room came from
// an ignored user: such invites are not shown.
func (run *syncRun) invitedByIgnored(ctx context.Context, m storage.UserMembership) (bool, error) {
	if len(run.ignored) == 0 || m.Membership.Membership != spec.Invite {
		return false, nil
	}
	invite, err := run.s.rooms.StateEvent(ctx, m.RoomID, spec.MRoomMember, run.req.UserID)
	if err != nil {
		return false, err
	}
	return run.ignored[string(invite.SenderID())], nil
}

package push

import (
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/pushrules"
)

// RoomState is what conditions ask about the room of an event: the number
// of joined members (room_member_count), each member's display name in the
// room (contains_display_name) and the power levels
// (sender_notification_permission). The functions are called only when a
// rule gets to such a condition; they may be nil.
type RoomState struct {
	Members     int
	DisplayName func(userID string) string
	PowerLevels func() *event.PowerLevelsEventContent
}

// For returns the room as the rules of one member see it, in the form of
// mautrix's pushrules.Room.
func (s *RoomState) For(userID string) pushrules.Room { return memberRoom{s, userID} }

// memberRoom implements pushrules.PowerLevelfulRoom for one member.
type memberRoom struct {
	state  *RoomState
	userID string
}

func (r memberRoom) GetOwnDisplayname() string {
	if r.state.DisplayName == nil {
		return ""
	}
	return r.state.DisplayName(r.userID)
}

func (r memberRoom) GetMemberCount() int { return r.state.Members }

func (r memberRoom) GetPowerLevels() *event.PowerLevelsEventContent {
	if r.state.PowerLevels == nil {
		return nil
	}
	return r.state.PowerLevels()
}

var _ pushrules.PowerLevelfulRoom = memberRoom{}

func idOf(s string) id.EventID  { return id.EventID(s) }
func roomOf(s string) id.RoomID { return id.RoomID(s) }
func userOf(s string) id.UserID { return id.UserID(s) }

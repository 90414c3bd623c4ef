package roomserver

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// JoinAuthoriser returns, for a local user joining a room with a
// restricted join rule, a local member who may authorise the join
// (join_authorised_via_users_server): one with the power to invite, when
// the user is joined to one of the rooms the rule allows. It returns ""
// when the room is not restricted, the user needs no authorisation (it is
// invited or joined), or nobody here can authorise it.
func (r *Roomserver) JoinAuthoriser(ctx context.Context, roomID, userID string) (string, error) {
	rules, err := r.StateEvent(ctx, roomID, spec.MRoomJoinRules, "")
	if errors.Is(err, ErrEventNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var content struct {
		JoinRule string `json:"join_rule"`
		Allow    []struct {
			Type   string `json:"type"`
			RoomID string `json:"room_id"`
		} `json:"allow"`
	}
	if err := json.Unmarshal(rules.Content(), &content); err != nil {
		return "", nil
	}
	if content.JoinRule != spec.Restricted && content.JoinRule != spec.KnockRestricted {
		return "", nil
	}
	if m, err := r.Membership(ctx, roomID, userID); err != nil || m == spec.Invite || m == spec.Join {
		return "", err
	}
	allowed := false
	for _, a := range content.Allow {
		if a.Type != "m.room_membership" {
			continue
		}
		if m, err := r.Membership(ctx, a.RoomID, userID); err == nil && m == spec.Join {
			allowed = true
			break
		}
	}
	if !allowed {
		return "", nil
	}
	return r.localInviter(ctx, roomID)
}

// localInviter returns a joined local member of the room with the power
// to invite, or "".
func (r *Roomserver) localInviter(ctx context.Context, roomID string) (string, error) {
	levels := gmsl.PowerLevelContent{}
	levels.Defaults()
	if pl, err := r.StateEvent(ctx, roomID, spec.MRoomPowerLevels, ""); err == nil {
		if parsed, err := pl.PowerLevels(); err == nil {
			levels = *parsed
		}
	} else if !errors.Is(err, ErrEventNotFound) {
		return "", err
	}
	creators := map[string]bool{}
	if create, err := r.StateEvent(ctx, roomID, spec.MRoomCreate, ""); err == nil && create.Version() != "" {
		if v, err := gmsl.GetRoomVersion(create.Version()); err == nil && v.PrivilegedCreators() {
			creators[string(create.SenderID())] = true
			var c struct {
				AdditionalCreators []string `json:"additional_creators"`
			}
			_ = json.Unmarshal(create.Content(), &c)
			for _, u := range c.AdditionalCreators {
				creators[u] = true
			}
		}
	}
	members, err := r.Members(ctx, roomID, spec.Join)
	if err != nil {
		return "", err
	}
	suffix := ":" + string(r.serverName)
	for _, m := range members {
		user := *m.StateKey()
		if !strings.HasSuffix(user, suffix) {
			continue
		}
		if creators[user] || levels.UserLevel(spec.SenderID(user)) >= levels.Invite {
			return user, nil
		}
	}
	return "", nil
}

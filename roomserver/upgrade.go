package roomserver

import (
	"context"
	"encoding/json"
	"errors"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// upgradeCopiedState are the state events a replacement room takes over.
var upgradeCopiedState = []string{
	spec.MRoomJoinRules, spec.MRoomHistoryVisibility, spec.MRoomGuestAccess, spec.MRoomName, spec.MRoomTopic,
	"m.room.avatar", "m.room.encryption", "m.room.server_acl", spec.MRoomCanonicalAlias,
}

// UpgradeRequest is a local user's request to upgrade a room.
type UpgradeRequest struct {
	RoomID, UserID, NewVersion string
	CreatorMember              json.RawMessage // the upgrader's join content in the new room
	// AdditionalCreators are the new room's creators besides the upgrader,
	// in versions that have them (ignored in others); the old room's are
	// not carried over.
	AdditionalCreators []string
}

// Upgrade replaces a room with a new room of another version: the new room
// names its predecessor and takes over the old room's settings, power
// levels and bans; the old room gets a tombstone pointing at the new one,
// and its power levels stop ordinary users from talking or inviting there.
// The user must be allowed to send the tombstone. Returns the new room id.
func (r *Roomserver) Upgrade(ctx context.Context, u UpgradeRequest) (string, error) {
	roomID, userID, newVersion := u.RoomID, u.UserID, u.NewVersion
	if !SupportedVersion(newVersion) {
		return "", &UnsupportedVersionError{Version: newVersion}
	}
	state, err := r.CurrentState(ctx, roomID)
	if err != nil {
		return "", err
	}
	byKey := map[gmsl.StateKeyTuple]gmsl.PDU{}
	for _, ev := range state {
		byKey[gmsl.StateKeyTuple{EventType: ev.Type(), StateKey: *ev.StateKey()}] = ev
	}
	if err := mayTombstone(byKey, userID); err != nil {
		return "", err
	}
	create := byKey[gmsl.StateKeyTuple{EventType: spec.MRoomCreate}]
	creation := objectOf(create.Content())
	delete(creation, "creator")
	delete(creation, "room_version")
	delete(creation, "additional_creators")
	last, err := r.Timeline(ctx, roomID, 0, 0, 1, true)
	if err != nil || len(last) == 0 {
		return "", errOr(err, ErrRoomNotFound)
	}
	creation["predecessor"] = map[string]string{"room_id": roomID, "event_id": last[0].EventID()}
	creators := []string{userID}
	if v := gmsl.MustGetRoomVersion(gmsl.RoomVersion(newVersion)); v.PrivilegedCreators() && len(u.AdditionalCreators) > 0 {
		creation["additional_creators"] = u.AdditionalCreators
		creators = append(creators, u.AdditionalCreators...)
	}
	req := CreateRequest{Creator: userID, Version: newVersion, CreationContent: mustJSON(creation),
		CreatorMember: u.CreatorMember, Preset: PresetPrivate}
	if pl := byKey[gmsl.StateKeyTuple{EventType: spec.MRoomPowerLevels}]; pl != nil {
		req.PowerLevels = upgradedPowerLevels(pl, creators, newVersion)
	}
	for _, typ := range upgradeCopiedState {
		if ev := byKey[gmsl.StateKeyTuple{EventType: typ}]; ev != nil {
			req.InitialState = append(req.InitialState, StateEvent{Type: typ, Content: ev.Content()})
		}
	}
	for key, ev := range byKey {
		if key.EventType == spec.MRoomMember {
			if m, _ := ev.Membership(); m == spec.Ban {
				req.InitialState = append(req.InitialState, StateEvent{Type: spec.MRoomMember, StateKey: key.StateKey,
					Content: mustJSON(map[string]string{"membership": spec.Ban})})
			}
		}
	}
	newRoom, err := r.CreateRoom(ctx, req)
	if err != nil {
		return "", err
	}
	if _, err := r.Send(ctx, Proto{RoomID: roomID, Sender: userID, Type: "m.room.tombstone", StateKey: ptr(""),
		Content: mustJSON(map[string]string{"body": "This room has been replaced", "replacement_room": newRoom})}); err != nil {
		return "", err
	}
	if pl := byKey[gmsl.StateKeyTuple{EventType: spec.MRoomPowerLevels}]; pl != nil {
		content := objectOf(pl.Content())
		restrict := 50
		if d, ok := content["users_default"].(float64); ok && int(d)+1 > restrict {
			restrict = int(d) + 1
		}
		content["events_default"], content["invite"] = restrict, restrict
		if _, err := r.Send(ctx, Proto{RoomID: roomID, Sender: userID, Type: spec.MRoomPowerLevels,
			StateKey: ptr(""), Content: mustJSON(content)}); err != nil {
			var na *NotAllowedError
			if !errors.As(err, &na) { // the upgrader may lack power to change them: that is fine
				return "", err
			}
		}
	}
	return newRoom, nil
}

// mayTombstone checks that the user's power level allows a tombstone.
func mayTombstone(state map[gmsl.StateKeyTuple]gmsl.PDU, userID string) error {
	create := state[gmsl.StateKeyTuple{EventType: spec.MRoomCreate}]
	if create == nil {
		return ErrRoomNotFound
	}
	if v, err := gmsl.GetRoomVersion(create.Version()); err == nil && v.PrivilegedCreators() && string(create.SenderID()) == userID {
		return nil
	}
	levels := gmsl.PowerLevelContent{}
	levels.Defaults()
	if pl := state[gmsl.StateKeyTuple{EventType: spec.MRoomPowerLevels}]; pl != nil {
		parsed, err := pl.PowerLevels()
		if err != nil {
			return err
		}
		levels = *parsed
	}
	if levels.UserLevel(spec.SenderID(userID)) < levels.EventLevel("m.room.tombstone", true) {
		return notAllowed("upgrading the room needs the power to send m.room.tombstone")
	}
	return nil
}

// upgradedPowerLevels copies the old room's power levels, dropping the
// creators from the users list in versions where creators are implicit
// (and may not be listed).
func upgradedPowerLevels(pl gmsl.PDU, creators []string, newVersion string) json.RawMessage {
	content := objectOf(pl.Content())
	if v, err := gmsl.GetRoomVersion(gmsl.RoomVersion(newVersion)); err == nil && v.PrivilegedCreators() {
		if users, ok := content["users"].(map[string]any); ok {
			for _, c := range creators {
				delete(users, c)
			}
		}
	}
	return mustJSON(content)
}

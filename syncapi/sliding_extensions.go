package syncapi

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/ganglion/ganglion/storage"
)

// extensionEnabled reads an extension's {"enabled": true}.
func (sl *slidingRun) extensionEnabled(name string) (bool, json.RawMessage) {
	raw, ok := sl.req.Extensions[name]
	if !ok {
		return false, nil
	}
	var ext struct {
		Enabled bool `json:"enabled"`
	}
	_ = json.Unmarshal(raw, &ext)
	return ext.Enabled, raw
}

// extensionRooms are the rooms of a response that extensions may cover:
// those in each list's ranges (with the lists they are in) and the room
// subscriptions the user may see.
type extensionRooms struct {
	lists      map[string][]string
	subscribed map[string]bool
}

// scope returns the rooms an extension covers, from its config's "lists"
// and "rooms" (list names and subscribed room ids; "*" for all of them,
// and each all when absent).
func (er extensionRooms) scope(raw json.RawMessage) map[string]bool {
	var cfg struct {
		Lists *[]string `json:"lists"`
		Rooms *[]string `json:"rooms"`
	}
	_ = json.Unmarshal(raw, &cfg)
	all := []string{"*"}
	if cfg.Lists == nil {
		cfg.Lists = &all
	}
	if cfg.Rooms == nil {
		cfg.Rooms = &all
	}
	out := map[string]bool{}
	for roomID, names := range er.lists {
		for _, name := range names {
			if slices.Contains(*cfg.Lists, "*") || slices.Contains(*cfg.Lists, name) {
				out[roomID] = true
			}
		}
	}
	for roomID := range er.subscribed {
		if slices.Contains(*cfg.Rooms, "*") || slices.Contains(*cfg.Rooms, roomID) {
			out[roomID] = true
		}
	}
	return out
}

// extensionRun is the /sync computation the extensions reuse: from the
// connection's last position, or from the start if initial.
func (sl *slidingRun) extensionRun(initial bool) *syncRun {
	run := &syncRun{s: sl.s, req: Request{UserID: sl.user, DeviceID: sl.device}, since: sl.since(), to: sl.to,
		initial: initial, filter: &Filter{}, now: sl.now}
	if initial {
		run.since = StreamToken{}
	}
	return run
}

// extensions adds the enabled extensions: to_device, e2ee, account_data,
// receipts and typing.
func (sl *slidingRun) extensions(ctx context.Context, resp *SlidingResponse, entries []storage.RoomListEntry, rooms extensionRooms) error {
	run := sl.extensionRun(sl.prev == nil)
	if on, raw := sl.extensionEnabled("to_device"); on {
		ext, err := sl.toDevice(ctx, run, raw)
		if err != nil {
			return err
		}
		if ext != nil {
			resp.Extensions["to_device"] = ext
		}
	}
	if on, _ := sl.extensionEnabled("e2ee"); on {
		e := &Response{}
		if err := run.e2ee(ctx, e); err != nil {
			return err
		}
		ext := map[string]any{
			"device_one_time_keys_count":       e.OneTimeKeysCount,
			"device_unused_fallback_key_types": e.UnusedFallbackKeyTypes,
		}
		if e.DeviceLists != nil {
			ext["device_lists"] = e.DeviceLists
		}
		sl.next.otkCounts, sl.next.fallbacks = e.OneTimeKeysCount, e.UnusedFallbackKeyTypes
		if sl.prev == nil || e.DeviceLists != nil || !maps.Equal(sl.prev.otkCounts, e.OneTimeKeysCount) ||
			!slices.Equal(sl.prev.fallbacks, e.UnusedFallbackKeyTypes) {
			resp.Extensions["e2ee"] = ext
		}
	}
	if on, _ := sl.extensionEnabled("account_data"); on {
		ext, err := sl.accountDataExtension(ctx)
		if err != nil {
			return err
		}
		if ext != nil {
			resp.Extensions["account_data"] = ext
		}
	}
	return sl.ephemeralExtensions(ctx, resp, entries, rooms)
}

// ephemeralExtensions adds the receipts and typing extensions for the
// rooms each covers: what changed since the connection's last position in
// rooms it covered then, everything (as on a new connection) in rooms it
// starts to cover.
func (sl *slidingRun) ephemeralExtensions(ctx context.Context, resp *SlidingResponse, entries []storage.RoomListEntry, rooms extensionRooms) error {
	var receiptRooms, typingRooms map[string]bool
	if on, raw := sl.extensionEnabled("receipts"); on {
		receiptRooms = rooms.scope(raw)
	}
	if on, raw := sl.extensionEnabled("typing"); on {
		typingRooms = rooms.scope(raw)
	}
	sl.next.receiptRooms, sl.next.typingRooms = receiptRooms, typingRooms
	if len(receiptRooms) == 0 && len(typingRooms) == 0 {
		return nil
	}
	var before connState // what the connection covered: nothing if new
	if sl.prev != nil {
		before = *sl.prev
	}
	// Two passes over the rooms: those covered before (since the last
	// position) and those covered now for the first time.
	var seen, fresh []storage.UserMembership
	for _, e := range entries {
		r, t := receiptRooms[e.RoomID], typingRooms[e.RoomID]
		if (r && before.receiptRooms[e.RoomID]) || (t && before.typingRooms[e.RoomID]) {
			seen = append(seen, e.UserMembership)
		}
		if (r && !before.receiptRooms[e.RoomID]) || (t && !before.typingRooms[e.RoomID]) {
			fresh = append(fresh, e.UserMembership)
		}
	}
	receipts, typing := map[string]any{}, map[string]any{}
	for _, pass := range []struct {
		ms      []storage.UserMembership
		initial bool
	}{{seen, false}, {fresh, true}} {
		if len(pass.ms) == 0 {
			continue
		}
		ephemeral, err := sl.extensionRun(pass.initial).ephemeral(ctx, pass.ms)
		if err != nil {
			return err
		}
		for roomID, events := range ephemeral {
			for _, ev := range events {
				m := ev.(map[string]any)
				switch m["type"] {
				case "m.receipt":
					if !receiptRooms[roomID] || before.receiptRooms[roomID] == pass.initial {
						continue
					}
					if pass.initial {
						m = sl.firstReceipts(m, resp.Rooms[roomID])
					}
					if m != nil {
						receipts[roomID] = m
					}
				case "m.typing":
					if typingRooms[roomID] && before.typingRooms[roomID] != pass.initial {
						typing[roomID] = m
					}
				}
			}
		}
	}
	if len(receipts) > 0 {
		resp.Extensions["receipts"] = map[string]any{"rooms": receipts}
	}
	if len(typing) > 0 {
		resp.Extensions["typing"] = map[string]any{"rooms": typing}
	}
	return nil
}

// firstReceipts keeps of the receipts of a room the receipts extension
// covers for the first time those of events in the room's timeline in this
// response, and the user's own (MSC3960: what a room sends must not grow
// with its history). It returns nil if none is left.
func (sl *slidingRun) firstReceipts(m map[string]any, room *SlidingRoom) map[string]any {
	inTimeline := map[string]bool{}
	if room != nil {
		for _, ev := range room.Timeline {
			inTimeline[ev.EventID] = true
		}
	}
	kept := map[string]map[string]map[string]any{}
	for eventID, types := range m["content"].(map[string]map[string]map[string]any) {
		for typ, users := range types {
			for user, data := range users {
				if !inTimeline[eventID] && user != sl.user {
					continue
				}
				if kept[eventID] == nil {
					kept[eventID] = map[string]map[string]any{}
				}
				if kept[eventID][typ] == nil {
					kept[eventID][typ] = map[string]any{}
				}
				kept[eventID][typ][user] = data
			}
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return map[string]any{"type": "m.receipt", "content": kept}
}

// toDevice is the to_device extension: messages after the extension's own
// since token, which also acknowledges those before it.
func (sl *slidingRun) toDevice(ctx context.Context, run *syncRun, raw json.RawMessage) (any, error) {
	var ext struct {
		Since string `json:"since"`
		Limit int    `json:"limit"`
	}
	_ = json.Unmarshal(raw, &ext)
	since, _ := strconv.ParseInt(ext.Since, 10, 64)
	run.since.ToDevice = since
	run.toDeviceLimit = ext.Limit
	r := &Response{}
	if err := run.toDevice(ctx, r); err != nil {
		return nil, err
	}
	next := sl.to.ToDevice
	if r.ToDevice == nil {
		if sl.prev != nil && since == next {
			return nil, nil
		}
		return map[string]any{"next_batch": strconv.FormatInt(next, 10), "events": []any{}}, nil
	}
	if t, ok := ParseStreamToken(r.NextBatch); ok && r.NextBatch != "" {
		next = t.ToDevice
	}
	return map[string]any{"next_batch": strconv.FormatInt(next, 10), "events": r.ToDevice.Events}, nil
}

// accountDataExtension is the account_data extension: global and per-room
// account data changed since the connection's last position.
func (sl *slidingRun) accountDataExtension(ctx context.Context) (any, error) {
	changes, err := sl.s.db.AccountDataSince(ctx, localpartOf(sl.user), sl.since().AccountData)
	if err != nil {
		return nil, err
	}
	global := []any{}
	rooms := map[string][]any{}
	for _, d := range changes {
		if d.StreamPos > sl.to.AccountData {
			continue
		}
		ev := accountDataEvent{Type: d.Type, Content: d.Content}
		if d.RoomID == "" {
			global = append(global, ev)
		} else {
			rooms[d.RoomID] = append(rooms[d.RoomID], ev)
		}
	}
	if len(global) == 0 && len(rooms) == 0 && sl.prev != nil {
		return nil, nil
	}
	return map[string]any{"global": global, "rooms": rooms}, nil
}

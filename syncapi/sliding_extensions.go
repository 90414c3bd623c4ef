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

// extensions adds the enabled extensions: to_device, e2ee, account_data,
// receipts and typing.
func (sl *slidingRun) extensions(ctx context.Context, resp *SlidingResponse, entries []storage.RoomListEntry) error {
	run := &syncRun{s: sl.s, req: Request{UserID: sl.user, DeviceID: sl.device}, since: sl.since(), to: sl.to,
		initial: sl.prev == nil, filter: &Filter{}, now: sl.now}
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
	receiptsOn, _ := sl.extensionEnabled("receipts")
	typingOn, _ := sl.extensionEnabled("typing")
	if !receiptsOn && !typingOn {
		return nil
	}
	var ms []storage.UserMembership
	for _, e := range entries {
		ms = append(ms, e.UserMembership)
	}
	ephemeral, err := run.ephemeral(ctx, ms)
	if err != nil {
		return err
	}
	receipts, typing := map[string]any{}, map[string]any{}
	for roomID, events := range ephemeral {
		for _, ev := range events {
			m := ev.(map[string]any)
			switch m["type"] {
			case "m.receipt":
				receipts[roomID] = m
			case "m.typing":
				typing[roomID] = m
			}
		}
	}
	if receiptsOn && len(receipts) > 0 {
		resp.Extensions["receipts"] = map[string]any{"rooms": receipts}
	}
	if typingOn && len(typing) > 0 {
		resp.Extensions["typing"] = map[string]any{"rooms": typing}
	}
	return nil
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

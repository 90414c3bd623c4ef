package syncapi

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/ganglion/ganglion/syncapi/push"
)

// Shape renders a /sync response as the filter's event_format and
// event_fields ask: room events in the federation format (the stored PDU,
// with the client's unsigned data) and every event reduced to the listed
// fields. Most filters ask for neither; then the response is returned as
// it is.
func (s *Syncer) Shape(ctx context.Context, resp *Response, f *Filter) (any, error) {
	if f == nil || (f.EventFormat != "federation" && len(f.EventFields) == 0) {
		return resp, nil
	}
	raw, err := json.Marshal(resp)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // integers beyond 2^53 stay exact
	if err := dec.Decode(&body); err != nil {
		return nil, err
	}
	sh := shaper{s: s, ctx: ctx, federation: f.EventFormat == "federation"}
	for _, field := range f.EventFields {
		sh.fields = append(sh.fields, push.SplitPath(field))
	}
	for _, section := range []string{"presence", "account_data"} {
		if err := sh.list(object(body[section]), false); err != nil {
			return nil, err
		}
	}
	rooms := object(body["rooms"])
	for _, section := range []string{"join", "leave"} {
		for _, room := range object(rooms[section]) {
			room := object(room)
			for _, part := range []string{"timeline", "state"} {
				if err := sh.list(object(room[part]), true); err != nil {
					return nil, err
				}
			}
			for _, part := range []string{"ephemeral", "account_data"} {
				if err := sh.list(object(room[part]), false); err != nil {
					return nil, err
				}
			}
		}
	}
	return body, nil
}

// shaper rewrites the events of one response.
type shaper struct {
	s          *Syncer
	ctx        context.Context
	federation bool
	fields     [][]string
}

// list rewrites the "events" of a section in place; room events can take
// the federation format.
func (sh *shaper) list(section map[string]any, roomEvents bool) error {
	events, _ := section["events"].([]any)
	for i, ev := range events {
		ev := object(ev)
		if roomEvents && sh.federation {
			var err error
			if ev, err = sh.pdu(ev); err != nil {
				return err
			}
		}
		if len(sh.fields) > 0 {
			ev = pickFields(ev, sh.fields)
		}
		events[i] = ev
	}
	return nil
}

// pdu returns the stored federation form of a client event.
func (sh *shaper) pdu(ev map[string]any) (map[string]any, error) {
	id, _ := ev["event_id"].(string)
	stored, err := sh.s.rooms.Event(sh.ctx, id)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(stored.JSON()))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if unsigned, ok := ev["unsigned"]; ok {
		out["unsigned"] = unsigned
	}
	return out, nil
}

// object returns v as a JSON object, or nil.
func object(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// pickFields returns the parts of ev that the field paths name, nested as
// in ev; paths that name nothing add nothing.
func pickFields(ev map[string]any, fields [][]string) map[string]any {
	out := map[string]any{}
	for _, path := range fields {
		pick(ev, out, path)
	}
	return out
}

// pick copies the value at path from src into dst.
func pick(src, dst map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	next := object(v)
	if next == nil {
		return
	}
	child := object(dst[path[0]])
	if child == nil {
		child = map[string]any{}
	}
	pick(next, child, path[1:])
	if len(child) > 0 {
		dst[path[0]] = child
	}
}

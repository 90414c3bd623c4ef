package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// syncAnswer is the part of a /sync answer the scenarios look at. The
// longpoll scenario reads thousands of answers a second on the machine of
// the server it measures, so it is decoded by decodeAnswer, which builds
// only these fields and skips the rest.
type syncAnswer struct {
	NextBatch string         `json:"next_batch"`
	Rooms     syncAnswerRoom `json:"rooms"`
}

type syncAnswerRoom struct {
	Join map[string]syncJoined `json:"join"`
}

type syncJoined struct {
	Timeline syncTimeline `json:"timeline"`
}

type syncTimeline struct {
	Events  []syncEvent `json:"events"`
	Limited bool        `json:"limited"`
}

type syncEvent struct {
	Type    string `json:"type"`
	Sender  string `json:"sender"`
	Content struct {
		Body string `json:"body"`
	} `json:"content"`
}

// answerDecoder is an answer that decodes itself from JSON without
// encoding/json's reflection (benchClient.do).
type answerDecoder interface {
	decodeAnswer(data []byte) error
}

// decodeAnswer sets a from a /sync answer as json.Unmarshal would (keys
// matched exactly, as the server writes them), rejecting what is not JSON.
func (a *syncAnswer) decodeAnswer(data []byte) error {
	s := &jsonScan{data: data}
	for started := false; ; {
		key, ok, err := s.member(&started)
		if err != nil || !ok {
			if s.ws(); err == nil && s.i != len(s.data) {
				err = s.fail("data after the answer")
			}
			return err
		}
		switch string(key) {
		case "next_batch":
			err = s.stringInto(&a.NextBatch)
		case "rooms":
			err = a.Rooms.decode(s)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (r *syncAnswerRoom) decode(s *jsonScan) error {
	for started := false; ; {
		key, ok, err := s.member(&started)
		if err != nil || !ok {
			return err
		}
		if string(key) != "join" {
			if err := s.skip(); err != nil {
				return err
			}
			continue
		}
		if s.next() == 'n' { // null empties, {} makes a map, as json.Unmarshal does
			r.Join = nil
		} else if r.Join == nil {
			r.Join = map[string]syncJoined{}
		}
		for started := false; ; {
			roomID, ok, err := s.member(&started)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			var j syncJoined // a repeated key replaces, as with json.Unmarshal
			if err := j.decode(s); err != nil {
				return err
			}
			r.Join[string(roomID)] = j
		}
	}
}

func (j *syncJoined) decode(s *jsonScan) error {
	for started := false; ; {
		key, ok, err := s.member(&started)
		if err != nil || !ok {
			return err
		}
		if string(key) == "timeline" {
			err = j.Timeline.decode(s)
		} else {
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (t *syncTimeline) decode(s *jsonScan) error {
	for started := false; ; {
		key, ok, err := s.member(&started)
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "limited":
			err = s.boolInto(&t.Limited)
		case "events":
			err = t.decodeEvents(s)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (t *syncTimeline) decodeEvents(s *jsonScan) error {
	if t.Events = t.Events[:0]; s.next() == 'n' {
		t.Events = nil
	} else if t.Events == nil {
		t.Events = []syncEvent{}
	}
	for started := false; ; {
		ok, err := s.element(&started)
		if err != nil || !ok {
			return err
		}
		var ev syncEvent
		if err := ev.decode(s); err != nil {
			return err
		}
		t.Events = append(t.Events, ev)
	}
}

func (ev *syncEvent) decode(s *jsonScan) error {
	for started := false; ; {
		key, ok, err := s.member(&started)
		if err != nil || !ok {
			return err
		}
		switch string(key) {
		case "type":
			err = s.stringInto(&ev.Type)
		case "sender":
			err = s.stringInto(&ev.Sender)
		case "content":
			err = ev.decodeContent(s)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (ev *syncEvent) decodeContent(s *jsonScan) error {
	for started := false; ; {
		key, ok, err := s.member(&started)
		if err != nil || !ok {
			return err
		}
		if string(key) == "body" {
			err = s.stringInto(&ev.Content.Body)
		} else {
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

// jsonScan walks JSON text: values the caller wants are decoded, others
// skipped with their syntax checked.
type jsonScan struct {
	data  []byte
	i     int
	depth int
}

// maxScanDepth bounds the nesting skip follows.
const maxScanDepth = 100

func (s *jsonScan) fail(what string) error {
	return fmt.Errorf("decode answer: %s at offset %d", what, s.i)
}

func (s *jsonScan) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next returns the next byte after white space, 0 at the end.
func (s *jsonScan) next() byte {
	s.ws()
	if s.i == len(s.data) {
		return 0
	}
	return s.data[s.i]
}

// member moves to the next member of an object: the first call (with
// *started false) enters the object (null has no members), the others
// move past a ',' or the closing '}'. It returns the member's key (valid
// until the next call), past its ':'; ok is false after the last member.
func (s *jsonScan) member(started *bool) (key []byte, ok bool, err error) {
	if ok, err = s.enter(started, '{', '}'); !ok || err != nil {
		return nil, false, err
	}
	if s.next() != '"' {
		return nil, false, s.fail("want a key")
	}
	start := s.i
	escaped, err := s.skipString()
	if err != nil {
		return nil, false, err
	}
	key = s.data[start+1 : s.i-1]
	if escaped {
		var k string
		if err := json.Unmarshal(s.data[start:s.i], &k); err != nil {
			return nil, false, s.fail("bad key")
		}
		key = []byte(k)
	}
	if s.next() != ':' {
		return nil, false, s.fail("want ':'")
	}
	s.i++
	return key, true, nil
}

// element moves to the next element of an array as member does.
func (s *jsonScan) element(started *bool) (ok bool, err error) {
	return s.enter(started, '[', ']')
}

// enter is the walk of member and element: whether a next value follows.
func (s *jsonScan) enter(started *bool, open, close byte) (bool, error) {
	if !*started {
		*started = true
		switch s.next() {
		case 'n':
			return false, s.literal("null")
		case open:
			s.i++
		default:
			return false, s.fail("want " + string(open))
		}
		if s.next() == close {
			s.i++
			return false, nil
		}
		return true, nil
	}
	switch s.next() {
	case ',':
		s.i++
		return true, nil
	case close:
		s.i++
		return false, nil
	}
	return false, s.fail("want ',' or " + string(close))
}

// stringInto decodes a string (null leaves *out as it is).
func (s *jsonScan) stringInto(out *string) error {
	switch s.next() {
	case 'n':
		return s.literal("null")
	case '"':
	default:
		return s.fail("want a string")
	}
	start := s.i
	escaped, err := s.skipString()
	if err != nil {
		return err
	}
	if !escaped {
		*out = string(s.data[start+1 : s.i-1])
		return nil
	}
	if err := json.Unmarshal(s.data[start:s.i], out); err != nil {
		return s.fail("bad string")
	}
	return nil
}

// boolInto decodes true, false or null (which leaves *out as it is).
func (s *jsonScan) boolInto(out *bool) error {
	switch s.next() {
	case 't':
		*out = true
		return s.literal("true")
	case 'f':
		*out = false
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.fail("want a boolean")
}

// skipString moves past a string at s.i, reporting whether it has escapes.
// Control characters and unknown escapes are rejected (wanted strings are
// then decoded by json.Unmarshal, which checks the rest).
func (s *jsonScan) skipString() (escaped bool, err error) {
	for s.i++; s.i < len(s.data); s.i++ {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			return escaped, nil
		case c == '\\':
			escaped = true
			if s.i++; s.i < len(s.data) && strings.IndexByte(`"\\/bfnrtu`, s.data[s.i]) < 0 {
				return false, s.fail("bad escape")
			}
		case c < 0x20:
			return false, s.fail("control character in a string")
		}
	}
	return false, s.fail("unterminated string")
}

func (s *jsonScan) literal(word string) error {
	if !bytes.HasPrefix(s.data[s.i:], []byte(word)) {
		return s.fail("bad literal")
	}
	s.i += len(word)
	return nil
}

// skip moves past one value of any kind.
func (s *jsonScan) skip() error {
	switch c := s.next(); {
	case c == '{' || c == '[':
		return s.skipContainer()
	case c == '"':
		_, err := s.skipString()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.fail("want a value")
}

// skipContainer moves past an object or array.
func (s *jsonScan) skipContainer() error {
	if s.depth++; s.depth > maxScanDepth {
		return s.fail("nested too deep")
	}
	defer func() { s.depth-- }()
	object := s.data[s.i] == '{'
	for started := false; ; {
		var (
			ok  bool
			err error
		)
		if object {
			_, ok, err = s.member(&started)
		} else {
			ok, err = s.element(&started)
		}
		if err != nil || !ok {
			return err
		}
		if err := s.skip(); err != nil {
			return err
		}
	}
}

// number moves past a number as JSON writes it.
func (s *jsonScan) number() error {
	start := s.i
	for s.i < len(s.data) && strings.IndexByte("+-.0123456789eE", s.data[s.i]) >= 0 {
		s.i++
	}
	if !json.Valid(s.data[start:s.i]) {
		return s.fail("bad number")
	}
	return nil
}

package roomserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Building an event with gomatrixserverlib parses and re-encodes its JSON
// about five times (content hash, redaction, signature, canonical form,
// event id), which made it the largest cost of a message send. A message
// needs none of that: its fields are known, its redacted form has empty
// content, and every string in it is copied as is into canonical JSON.
// buildFast writes the canonical JSON of such an event directly, byte for
// byte what EventBuilder.Build writes (TestBuildFast compares the two).

// fastRedaction is what a room version's redaction algorithm keeps of a
// message event's top-level keys, found once per version by redacting a
// probe event with gomatrixserverlib.
type fastRedaction struct {
	ok         bool // the version's events can be built fast at all
	keepOrigin bool // the redacted event keeps "origin"
	urlSafeIDs bool // event ids use URL-safe base64
}

var fastRedactions sync.Map // gmsl.RoomVersion -> fastRedaction

// fastRedactionOf returns the version's fastRedaction.
func fastRedactionOf(rv gmsl.IRoomVersion) fastRedaction {
	if fr, ok := fastRedactions.Load(rv.Version()); ok {
		return fr.(fastRedaction)
	}
	fr := probeRedaction(rv)
	fastRedactions.Store(rv.Version(), fr)
	return fr
}

func probeRedaction(rv gmsl.IRoomVersion) fastRedaction {
	var fr fastRedaction
	switch {
	case rv.EventFormat() != gmsl.EventFormatV2 || rv.StateDAGs():
		return fr
	case rv.EventIDFormat() == gmsl.EventIDFormatV3:
		fr.urlSafeIDs = true
	case rv.EventIDFormat() != gmsl.EventIDFormatV2:
		return fr
	}
	probe := []byte(`{"auth_events":["$a"],"content":{"body":"x"},"depth":1,"hashes":{"sha256":"h"},"origin":"o",` +
		`"origin_server_ts":1,"prev_events":["$p"],"room_id":"!r:o","sender":"@s:o","type":"org.example.probe"}`)
	redacted, err := rv.RedactEventJSON(probe)
	if err != nil {
		return fr
	}
	canonical, err := gmsl.CanonicalJSON(redacted)
	if err != nil {
		return fr
	}
	withOrigin := `{"auth_events":["$a"],"content":{},"depth":1,"hashes":{"sha256":"h"},"origin":"o",` +
		`"origin_server_ts":1,"prev_events":["$p"],"room_id":"!r:o","sender":"@s:o","type":"org.example.probe"}`
	withoutOrigin := `{"auth_events":["$a"],"content":{},"depth":1,"hashes":{"sha256":"h"},` +
		`"origin_server_ts":1,"prev_events":["$p"],"room_id":"!r:o","sender":"@s:o","type":"org.example.probe"}`
	switch string(canonical) {
	case withOrigin:
		fr.ok, fr.keepOrigin = true, true
	case withoutOrigin:
		fr.ok = true
	}
	return fr
}

// redactionContentTypes are the event types whose redacted content keeps
// keys in some room version: their redacted form is not empty content.
var redactionContentTypes = map[string]bool{
	spec.MRoomMember: true, spec.MRoomCreate: true, spec.MRoomJoinRules: true, spec.MRoomPowerLevels: true,
	spec.MRoomHistoryVisibility: true, "m.room.aliases": true, spec.MRoomRedaction: true,
}

// plainString reports whether s is written into canonical JSON as is,
// between quotes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.ValidString(s)
}

// buildFast builds the event eb describes as EventBuilder.Build would,
// once its auth events are added. ok is false for events it does not
// build: state events, redactions, events with unsigned data, and room
// versions or strings outside the simple case.
func buildFast(eb *gmsl.EventBuilder, rv gmsl.IRoomVersion, now time.Time, origin spec.ServerName,
	keyID gmsl.KeyID, key ed25519.PrivateKey) (pdu gmsl.PDU, ok bool, err error) {
	fr := fastRedactionOf(rv)
	prev, prevOK := eb.PrevEvents.([]string)
	auth, authOK := eb.AuthEvents.([]string)
	if !fr.ok || !prevOK || !authOK || eb.StateKey != nil || eb.Redacts != "" || len(eb.Unsigned) > 0 ||
		len(eb.Signature) > 0 || eb.PrevStateEvents != nil || eb.RoomID == "" || redactionContentTypes[eb.Type] {
		return nil, false, nil
	}
	strs := append([]string{eb.SenderID, eb.RoomID, eb.Type, string(origin), string(keyID)}, prev...)
	for _, s := range append(strs, auth...) {
		if !plainString(s) {
			return nil, false, nil
		}
	}
	content, err := gmsl.EnforcedCanonicalJSON(eb.Content, rv.Version())
	if err != nil {
		return nil, true, err
	}
	ts := strconv.FormatInt(int64(spec.AsTimestamp(now)), 10)

	// The event as hashed: every key but hashes and signatures.
	var head, tail bytes.Buffer // around the hashes: auth_events to depth; origin to type
	head.WriteString(`{"auth_events":`)
	writeIDs(&head, auth)
	head.WriteString(`,"content":`)
	contentAt := head.Len()
	head.Write(content)
	contentEnd := head.Len()
	head.WriteString(`,"depth":`)
	head.WriteString(strconv.FormatInt(eb.Depth, 10))
	tail.WriteString(`"origin":"` + string(origin) + `",`)
	originLen := tail.Len()
	tail.WriteString(`"origin_server_ts":` + ts + `,"prev_events":`)
	writeIDs(&tail, prev)
	tail.WriteString(`,"room_id":"` + eb.RoomID + `","sender":"` + eb.SenderID + `"`)
	sigAt := tail.Len()
	tail.WriteString(`,"type":"` + eb.Type + `"}`)

	var hashed bytes.Buffer
	hashed.Write(head.Bytes())
	hashed.WriteByte(',')
	hashed.Write(tail.Bytes())
	sum := sha256.Sum256(hashed.Bytes())
	hashes := `,"hashes":{"sha256":"` + base64.RawStdEncoding.EncodeToString(sum[:]) + `"},`

	// The redacted event: content empty, origin kept or not; it is both
	// signed and hashed into the event id.
	var redacted bytes.Buffer
	redacted.Write(head.Bytes()[:contentAt])
	redacted.WriteString("{}")
	redacted.Write(head.Bytes()[contentEnd:])
	redacted.WriteString(hashes)
	if fr.keepOrigin {
		redacted.Write(tail.Bytes())
	} else {
		redacted.Write(tail.Bytes()[originLen:])
	}
	signature := base64.RawStdEncoding.EncodeToString(ed25519.Sign(key, redacted.Bytes()))
	ref := sha256.Sum256(redacted.Bytes())
	enc := base64.RawStdEncoding
	if fr.urlSafeIDs {
		enc = base64.RawURLEncoding
	}
	eventID := "$" + enc.EncodeToString(ref[:])

	var full bytes.Buffer
	full.Grow(head.Len() + len(hashes) + tail.Len() + 128)
	full.Write(head.Bytes())
	full.WriteString(hashes)
	full.Write(tail.Bytes()[:sigAt])
	full.WriteString(`,"signatures":{"` + string(origin) + `":{"` + string(keyID) + `":"` + signature + `"}}`)
	full.Write(tail.Bytes()[sigAt:])
	pdu, err = rv.NewEventFromTrustedJSONWithEventID(eventID, full.Bytes(), false)
	return pdu, true, err
}

// writeIDs writes event ids, plain strings, as a JSON array.
func writeIDs(b *bytes.Buffer, ids []string) {
	b.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(id)
		b.WriteByte('"')
	}
	b.WriteByte(']')
}

package syncapi

import (
	"strconv"
	"strings"
)

// A pagination token names a position between events of a room's
// timeline: "m" followed by a position in the events stream. Paginating
// backwards from it returns the events before the position; forwards, the
// events at or after it. /sync's prev_batch uses the same form.

// PaginationToken formats the position pos.
func PaginationToken(pos int64) string { return "m" + strconv.FormatInt(pos, 10) }

// ParsePaginationToken reads a pagination token; ok is false if it is
// malformed. A /sync next_batch token is accepted too, as the spec allows
// for /messages' from: it names the position just after the events that
// sync returned.
func ParsePaginationToken(token string) (pos int64, ok bool) {
	if st, isStream := ParseStreamToken(token); isStream {
		return st.Events + 1, true
	}
	rest, found := strings.CutPrefix(token, "m")
	if !found {
		return 0, false
	}
	pos, err := strconv.ParseInt(rest, 10, 64)
	return pos, err == nil && pos >= 0
}

// StreamToken is a /sync position: one position per stream. Its text form
// is "s" followed by the positions joined by "_"; tokens from older
// versions with fewer streams read the missing ones as 0.
type StreamToken struct {
	Events      int64
	AccountData int64
	Receipts    int64
	Typing      int64 // in memory: restarts at 0 with the server
	ToDevice    int64
	DeviceLists int64
	Presence    int64
}

func (t StreamToken) String() string {
	b := make([]byte, 0, 64)
	for i, p := range [...]int64{t.Events, t.AccountData, t.Receipts, t.Typing, t.ToDevice, t.DeviceLists, t.Presence} {
		if i == 0 {
			b = append(b, 's')
		} else {
			b = append(b, '_')
		}
		b = strconv.AppendInt(b, p, 10)
	}
	return string(b)
}

// beyond reports whether the token names a position past the current
// positions cur on a stream kept in storage: a token this server never
// gave out (another server's, or one from before the database was
// replaced). Typing is left out: its positions start over with the server.
func (t StreamToken) beyond(cur StreamToken) bool {
	return t.Events > cur.Events || t.AccountData > cur.AccountData || t.Receipts > cur.Receipts ||
		t.ToDevice > cur.ToDevice || t.DeviceLists > cur.DeviceLists || t.Presence > cur.Presence
}

// ParseStreamToken reads a /sync token; ok is false if it is malformed.
func ParseStreamToken(s string) (t StreamToken, ok bool) {
	rest, found := strings.CutPrefix(s, "s")
	if !found || rest == "" {
		return t, false
	}
	fields := [...]*int64{&t.Events, &t.AccountData, &t.Receipts, &t.Typing, &t.ToDevice, &t.DeviceLists, &t.Presence}
	for i := 0; ; i++ {
		p, after, more := strings.Cut(rest, "_")
		if i == len(fields) {
			return StreamToken{}, false
		}
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return StreamToken{}, false
		}
		*fields[i] = n
		if !more {
			return t, true
		}
		rest = after
	}
}

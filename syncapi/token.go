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
// malformed.
func ParsePaginationToken(token string) (pos int64, ok bool) {
	rest, found := strings.CutPrefix(token, "m")
	if !found {
		return 0, false
	}
	pos, err := strconv.ParseInt(rest, 10, 64)
	return pos, err == nil && pos >= 0
}

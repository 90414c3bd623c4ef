package roomserver

import (
	"errors"
	"fmt"
)

var (
	// ErrRoomNotFound: the server does not know the room.
	ErrRoomNotFound = errors.New("room not found")
	// ErrEventNotFound: the server does not know the event (or it is not in
	// the room asked about).
	ErrEventNotFound = errors.New("event not found")
)

// NotAllowedError is returned when the auth rules reject an event.
type NotAllowedError struct{ Reason string }

func (e *NotAllowedError) Error() string { return "not allowed: " + e.Reason }

// BadEventError is returned for an event that is malformed: too large, a
// bad state key, content that does not fit the event type.
type BadEventError struct {
	Reason  string
	TooBig  bool
	BadJSON bool
}

func (e *BadEventError) Error() string { return "bad event: " + e.Reason }

func notAllowed(format string, args ...any) error {
	return &NotAllowedError{Reason: fmt.Sprintf(format, args...)}
}

// Package mxerr is the one Matrix error type of the server. Handlers return
// *Error for anything a client must see; Write turns it (or any other error)
// into the spec's JSON error body.
package mxerr

import (
	"fmt"
	"net/http"
	"time"
)

// Error is a Matrix error: an HTTP status, an errcode, a human-readable
// message and optional extra top-level fields (retry_after_ms, soft_logout).
type Error struct {
	Status  int
	Code    string
	Message string
	Extra   map[string]any
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Body returns the JSON object sent to the client. An Error without a Code
// (the first 401 of user-interactive auth) carries only its extra fields.
func (e *Error) Body() map[string]any {
	body := make(map[string]any, 2+len(e.Extra))
	for k, v := range e.Extra {
		body[k] = v
	}
	if e.Code != "" {
		body["errcode"] = e.Code
		body["error"] = e.Message
	}
	return body
}

// With returns a copy of e with an extra top-level field.
func (e *Error) With(key string, value any) *Error {
	extra := make(map[string]any, len(e.Extra)+1)
	for k, v := range e.Extra {
		extra[k] = v
	}
	extra[key] = value
	return &Error{Status: e.Status, Code: e.Code, Message: e.Message, Extra: extra}
}

// New makes an error with the given status, code and message.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// The constructors below cover the errcodes the server produces; each takes
// a printf-style message.

func Forbidden(format string, args ...any) *Error {
	return New(http.StatusForbidden, "M_FORBIDDEN", format, args...)
}

func NotFound(format string, args ...any) *Error {
	return New(http.StatusNotFound, "M_NOT_FOUND", format, args...)
}

func BadJSON(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_BAD_JSON", format, args...)
}

func NotJSON(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_NOT_JSON", format, args...)
}

func MissingParam(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_MISSING_PARAM", format, args...)
}

func InvalidParam(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_INVALID_PARAM", format, args...)
}

func TooLarge(format string, args ...any) *Error {
	return New(http.StatusRequestEntityTooLarge, "M_TOO_LARGE", format, args...)
}

func Unknown(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_UNKNOWN", format, args...)
}

func UserInUse(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_USER_IN_USE", format, args...)
}

func InvalidUsername(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_INVALID_USERNAME", format, args...)
}

func Exclusive(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_EXCLUSIVE", format, args...)
}

func GuestAccessForbidden(format string, args ...any) *Error {
	return New(http.StatusForbidden, "M_GUEST_ACCESS_FORBIDDEN", format, args...)
}

func UserDeactivated(format string, args ...any) *Error {
	return New(http.StatusForbidden, "M_USER_DEACTIVATED", format, args...)
}

func MissingToken(format string, args ...any) *Error {
	return New(http.StatusUnauthorized, "M_MISSING_TOKEN", format, args...)
}

// UnknownToken is the 401 for an unrecognised, expired or revoked access
// token. softLogout tells the client whether it may keep its device and log
// in again (an expired token) or must start over (a revoked one).
func UnknownToken(softLogout bool, format string, args ...any) *Error {
	return New(http.StatusUnauthorized, "M_UNKNOWN_TOKEN", format, args...).With("soft_logout", softLogout)
}

// Unrecognized is the answer to an unknown path (404) or a known path with
// the wrong method (405).
func Unrecognized(status int, format string, args ...any) *Error {
	return New(status, "M_UNRECOGNIZED", format, args...)
}

// LimitExceeded asks the client to wait before retrying.
func LimitExceeded(retryAfter time.Duration) *Error {
	ms := retryAfter.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return New(http.StatusTooManyRequests, "M_LIMIT_EXCEEDED", "too many requests").With("retry_after_ms", ms)
}

func InvalidRoomState(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "M_INVALID_ROOM_STATE", format, args...)
}

func Unauthorized(format string, args ...any) *Error {
	return New(http.StatusUnauthorized, "M_UNAUTHORIZED", format, args...)
}

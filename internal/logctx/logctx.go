// Package logctx carries the request-scoped logger in a context and names
// the log fields every component uses.
package logctx

import (
	"context"

	"github.com/sirupsen/logrus"
)

// Field names shared by all log lines.
const (
	FieldReqID    = "req_id"
	FieldMethod   = "method"
	FieldPath     = "path"
	FieldUserID   = "user_id"
	FieldDeviceID = "device_id"
	FieldRoomID   = "room_id"
	FieldEventID  = "event_id"
	FieldServer   = "server"
	FieldTxnID    = "txn_id"
	FieldStream   = "stream_pos"
)

type key struct{}

// With returns a context carrying entry.
func With(ctx context.Context, entry *logrus.Entry) context.Context {
	return context.WithValue(ctx, key{}, entry)
}

// From returns the logger in ctx, or a logger that discards everything if
// there is none.
func From(ctx context.Context) *logrus.Entry {
	if e, ok := ctx.Value(key{}).(*logrus.Entry); ok {
		return e
	}
	l := logrus.New()
	l.SetOutput(discard{})
	return logrus.NewEntry(l)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

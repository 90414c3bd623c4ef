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

// Source makes a request's logger when something is logged: most
// requests log nothing, and their fields then cost nothing.
type Source interface {
	Logger() *logrus.Entry
}

// With returns a context carrying src.
func With(ctx context.Context, src Source) context.Context {
	return context.WithValue(ctx, key{}, src)
}

// SourceOf returns the Source in ctx, nil if there is none.
func SourceOf(ctx context.Context) Source {
	src, _ := ctx.Value(key{}).(Source)
	return src
}

// From returns the logger of the Source in ctx, or a logger that discards
// everything if there is none.
func From(ctx context.Context) *logrus.Entry {
	if src := SourceOf(ctx); src != nil {
		return src.Logger()
	}
	l := logrus.New()
	l.SetOutput(discard{})
	return logrus.NewEntry(l)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

package roomserver

import "context"

// Output describes one new event, after its commit. It is small on
// purpose: subscribers read what else they need from storage.
type Output struct {
	RoomID    string
	EventID   string
	Type      string
	StateKey  *string
	Sender    string
	StreamPos int64
	// Membership is the new membership of StateKey for m.room.member
	// events, "" otherwise.
	Membership string
}

// Subscriber is told about every new event, in stream order per room.
// OnOutput must not block: it runs on the writer's path.
type Subscriber interface {
	OnOutput(ctx context.Context, o Output)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// rooms is the rooms scenario: users in private rooms of benchRoomSize
// members (created with invites, then joined), each user sending messages
// round its rooms.
func (b *bench) rooms(ctx context.Context) error {
	o := b.opts
	size := min(benchRoomSize, o.Users)
	b.report.Params = benchParams{
		Users: o.Users, Rooms: o.Rooms, RoomSize: size, MessagesPerUser: o.timedCount(o.Messages),
		Concurrency: min(o.Concurrency, o.Users), Duration: o.Duration.Seconds(), Rate: o.Rate,
	}
	users, err := b.registerUsers(ctx, o.Users)
	if err != nil {
		return err
	}
	// Member k of room r; the stride spreads each user over o.Rooms*size/o.Users
	// rooms with different companions.
	stride := o.Users / size
	member := func(r, k int) *benchUser { return users[(r+k*stride)%o.Users] }
	roomIDs := make([]string, o.Rooms)
	err = b.setup(ctx, "create rooms (with invites)", o.Rooms, func(ctx context.Context, r int) error {
		invite := make([]string, 0, size-1)
		for k := 1; k < size; k++ {
			invite = append(invite, member(r, k).ID)
		}
		var err error
		roomIDs[r], err = b.client.createRoom(ctx, member(r, 0), map[string]any{
			"preset": "private_chat", "name": fmt.Sprintf("bench room %d", r), "invite": invite,
		})
		return err
	})
	if err != nil {
		return err
	}
	// Invited members join, one member of every room after the other, so
	// that parallel joins go to different rooms.
	joins := o.Rooms * (size - 1)
	err = b.setup(ctx, "join rooms", joins, func(ctx context.Context, i int) error {
		r, k := i%o.Rooms, i/o.Rooms+1
		_, err := b.client.join(ctx, member(r, k), roomIDs[r])
		return err
	})
	if err != nil {
		return err
	}
	for r, id := range roomIDs {
		for k := range size {
			u := member(r, k)
			u.rooms = append(u.rooms, id)
		}
	}
	return b.sendLoad(ctx, users, 0)
}

// oneRoom is the oneroom scenario: every user in one public room, all
// sending at once.
func (b *bench) oneRoom(ctx context.Context) error {
	o := b.opts
	b.report.Params = benchParams{
		Users: o.Users, Rooms: 1, RoomSize: o.Users, MessagesPerUser: o.timedCount(o.Messages),
		Concurrency: min(o.Concurrency, o.Users), Duration: o.Duration.Seconds(), Rate: o.Rate,
	}
	users, roomID, err := b.usersInOneRoom(ctx, o.Users)
	if err != nil {
		return err
	}
	for _, u := range users {
		u.rooms = []string{roomID}
	}
	return b.sendLoad(ctx, users, o.Users)
}

// timedCount is n, or 0 if -duration replaces counts.
func (o benchOptions) timedCount(n int) int {
	if o.Duration > 0 {
		return 0
	}
	return n
}

// usersInOneRoom registers n users who all join one public room of the
// first.
func (b *bench) usersInOneRoom(ctx context.Context, n int) ([]*benchUser, string, error) {
	users, err := b.registerUsers(ctx, n)
	if err != nil {
		return nil, "", err
	}
	roomID, err := b.publicRoom(ctx, users[0])
	if err != nil {
		return nil, "", err
	}
	err = b.setup(ctx, "join room", len(users)-1, func(ctx context.Context, i int) error {
		_, err := b.client.join(ctx, users[i+1], roomID)
		return err
	})
	return users, roomID, err
}

// publicRoom creates a public room (public_chat preset: anyone may join).
func (b *bench) publicRoom(ctx context.Context, creator *benchUser) (string, error) {
	var id string
	err := b.setup(ctx, "create room", 1, func(ctx context.Context, _ int) error {
		var err error
		id, err = b.client.createRoom(ctx, creator, map[string]any{"preset": "public_chat", "name": "bench " + b.prefix})
		return err
	})
	return id, err
}

// sendLoad is the measured phase of the sending scenarios: -concurrency
// clients, each driving its share of the users; a user sends its messages
// round its rooms, one after the other.
func (b *bench) sendLoad(ctx context.Context, users []*benchUser, roomSize int) error {
	var senders []*benchUser
	for _, u := range users {
		if len(u.rooms) > 0 {
			senders = append(senders, u)
		}
	}
	if len(senders) == 0 {
		return errors.New("bench: no user is in a room")
	}
	workers := min(b.opts.Concurrency, len(senders))
	mine := make([][]*benchUser, workers)
	for i, u := range senders {
		mine[i%workers] = append(mine[i%workers], u)
	}
	return b.load(ctx, loadSpec{
		name: "send message", roomSize: roomSize, workers: workers, timed: true,
		count: func(w int) int { return b.opts.Messages * len(mine[w]) },
		op: func(ctx context.Context, w, i int) (time.Duration, error) {
			u := mine[w][i%len(mine[w])]
			round := i / len(mine[w])
			room := u.rooms[round%len(u.rooms)]
			return b.client.send(ctx, u, room, fmt.Sprintf("bench message %d from %s", round, u.ID))
		},
	})
}

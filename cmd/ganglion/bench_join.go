package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// benchMaxMemberReads bounds the GET /members requests of the join
// scenario (each answer holds every member event).
const benchMaxMemberReads = 20

// joinSteps are the room sizes at which the join scenario times joins:
// 10, 100, 1000, ... below n, then n.
func joinSteps(n int) []int {
	var steps []int
	for s := 10; s < n; s *= 10 {
		steps = append(steps, s)
	}
	return append(steps, n)
}

// join is the join scenario: one public room grown to -users members. At
// each step the room is filled (setup) to -requests below the step's size,
// then the last -requests joins are timed; at the largest size GET
// /members is timed.
func (b *bench) join(ctx context.Context) error {
	o := b.opts
	if o.Users < 2 {
		return errors.New("bench: join needs -users of at least 2")
	}
	b.report.Params = benchParams{
		Users: o.Users, Rooms: 1, RoomSize: o.Users, Requests: o.Requests, Concurrency: o.Concurrency,
	}
	users, err := b.registerUsers(ctx, o.Users)
	if err != nil {
		return err
	}
	roomID, err := b.publicRoom(ctx, users[0])
	if err != nil {
		return err
	}
	members := 1
	for _, step := range joinSteps(o.Users) {
		timed := min(o.Requests, step-members)
		if fill := step - timed; fill > members {
			from := members
			err := b.setup(ctx, fmt.Sprintf("fill room to %d", fill), fill-from, func(ctx context.Context, i int) error {
				_, err := b.client.join(ctx, users[from+i], roomID)
				return err
			})
			if err != nil {
				return err
			}
			members = fill
		}
		if timed <= 0 {
			continue
		}
		from := members
		var next atomic.Int64
		workers := min(o.Concurrency, timed)
		err := b.load(ctx, loadSpec{
			name: "join", roomSize: step, workers: workers, count: evenShare(timed, workers),
			op: func(ctx context.Context, _, _ int) (time.Duration, error) {
				return b.client.join(ctx, users[from+int(next.Add(1))-1], roomID)
			},
		})
		if err != nil {
			return err
		}
		members = step
	}
	return b.load(ctx, loadSpec{
		name: "get members", roomSize: members, workers: 1, count: evenShare(min(o.Requests, benchMaxMemberReads), 1),
		op: func(ctx context.Context, _, _ int) (time.Duration, error) {
			n, took, err := b.client.members(ctx, users[0], roomID)
			if err == nil && n != members {
				err = fmt.Errorf("GET /members: got %d members, want %d", n, members)
			}
			return took, err
		},
	})
}

// messagesScenario is the messages scenario: a public room with -users
// members and -messages messages, read backwards in pages of
// benchPageSize by -concurrency readers, each starting again at the newest
// event when it reaches the room's start.
func (b *bench) messagesScenario(ctx context.Context) error {
	o := b.opts
	b.report.Params = benchParams{
		Users: o.Users, Rooms: 1, RoomSize: o.Users, Messages: o.Messages, Requests: o.timedCount(o.Requests),
		Concurrency: o.Concurrency, Duration: o.Duration.Seconds(), Rate: o.Rate,
	}
	users, roomID, err := b.usersInOneRoom(ctx, o.Users)
	if err != nil {
		return err
	}
	err = b.setup(ctx, "send messages", o.Messages, func(ctx context.Context, i int) error {
		_, err := b.client.send(ctx, users[i%len(users)], roomID, fmt.Sprintf("bench message %d", i))
		return err
	})
	if err != nil {
		return err
	}
	from := make([]string, o.Concurrency) // each reader's position
	seen := make([]int, o.Concurrency)    // events it has read since the newest
	return b.load(ctx, loadSpec{
		name: fmt.Sprintf("messages page of %d", benchPageSize), roomSize: o.Users,
		workers: o.Concurrency, count: evenShare(o.Requests, o.Concurrency), timed: true,
		op: func(ctx context.Context, w, _ int) (time.Duration, error) {
			page, took, err := b.client.messages(ctx, users[w%len(users)], roomID, from[w], benchPageSize)
			if err != nil {
				return took, err
			}
			seen[w] += len(page.Chunk)
			if page.End != "" && len(page.Chunk) > 0 {
				from[w] = page.End
				return took, nil
			}
			n := seen[w]
			from[w], seen[w] = "", 0
			if n < o.Messages {
				return took, fmt.Errorf("GET /messages: reached the start of the room after %d events, want at least %d", n, o.Messages)
			}
			return took, nil
		},
	})
}

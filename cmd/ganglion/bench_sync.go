package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The sync scenarios: long-poll delivery in one large room (longpoll), and
// the /sync and sliding sync answers of one user in many rooms
// (initialsync, sliding).

const (
	benchPollTimeout     = 30 * time.Second       // the timeout of each long-poll /sync
	benchSendInterval    = 200 * time.Millisecond // between longpoll messages without -rate
	benchIdlePhase       = 10 * time.Second       // longpoll's idle phase without -duration
	benchSettleQuiet     = time.Second            // no sync answer for this long: every long-poll waits
	benchSettleMax       = 15 * time.Second       // give up waiting for quiet after this long
	benchDrainTimeout    = 10 * time.Second       // after the last send, deliveries may take this long
	benchIncrementalRuns = 10                     // incremental syncs timed per initial sync
	benchSyncTimeline    = 10                     // timeline limit of the initialsync filter
	benchSlidingRange    = 20                     // rooms in the sliding sync list
	benchPollCheck       = 10 * time.Millisecond  // how often the drain and settle waits look
	benchPollRetry       = 100 * time.Millisecond // before a failed long-poll is repeated
	benchPollFilter      = `{"room":{"timeline":{"limit":50},"state":{"lazy_load_members":true}}}`
	benchSyncFilterJSON  = `{"room":{"timeline":{"limit":10}}}`
	benchSlidingEndpoint = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
)

// sync is GET /sync with an inline filter, from since ("": an initial
// sync), waiting up to timeout for something new.
func (c *benchClient) sync(ctx context.Context, u *benchUser, since string, timeout time.Duration, filter string) (syncAnswer, time.Duration, error) {
	q := url.Values{"timeout": {strconv.FormatInt(timeout.Milliseconds(), 10)}, "filter": {filter}}
	if since != "" {
		q.Set("since", since)
	}
	var a syncAnswer
	took, err := c.do(ctx, http.MethodGet, clientV3+"/sync?"+q.Encode(), u.Token, nil, &a)
	return a, took, err
}

// slidingAnswer is the part of a sliding sync answer the sliding scenario
// looks at.
type slidingAnswer struct {
	Pos   string `json:"pos"`
	Lists map[string]struct {
		Count int `json:"count"`
	} `json:"lists"`
	Rooms map[string]struct {
		Name     string            `json:"name"`
		Timeline []json.RawMessage `json:"timeline"`
	} `json:"rooms"`
}

// slidingList is a simplified sliding sync request on a new connection (no
// pos) for one list of the rooms [0, n-1] with their name, avatar and last
// event, in the request shape Element X sends.
func (c *benchClient) slidingList(ctx context.Context, u *benchUser, n int) (slidingAnswer, time.Duration, error) {
	req := map[string]any{"lists": map[string]any{"all": map[string]any{
		"ranges":         [][2]int{{0, n - 1}},
		"timeline_limit": 1,
		"required_state": [][2]string{{"m.room.name", ""}, {"m.room.avatar", ""}},
	}}}
	var a slidingAnswer
	took, err := c.do(ctx, http.MethodPost, benchSlidingEndpoint, u.Token, req, &a)
	return a, took, err
}

// syncUser is the setup of initialsync and sliding: one user creating
// -rooms rooms with a name and sending -messages messages into each.
func (b *bench) syncUser(ctx context.Context) (*benchUser, error) {
	o := b.opts
	users, err := b.registerUsers(ctx, 1)
	if err != nil {
		return nil, err
	}
	u := users[0]
	u.rooms = make([]string, o.Rooms)
	err = b.setup(ctx, "create rooms", o.Rooms, func(ctx context.Context, r int) error {
		var err error
		u.rooms[r], err = b.client.createRoom(ctx, u, map[string]any{"preset": "private_chat", "name": fmt.Sprintf("bench room %d", r)})
		return err
	})
	if err != nil {
		return nil, err
	}
	// Message i goes to room i mod rooms: parallel sends go to different rooms.
	err = b.setup(ctx, "send messages", o.Rooms*o.Messages, func(ctx context.Context, i int) error {
		_, err := b.client.send(ctx, u, u.rooms[i%o.Rooms], fmt.Sprintf("bench message %d", i/o.Rooms))
		return err
	})
	return u, err
}

// syncParams are the report's parameters of initialsync and sliding.
func (o benchOptions) syncParams() benchParams {
	return benchParams{Users: 1, Rooms: o.Rooms, RoomSize: 1, Messages: o.Rooms * o.Messages, Requests: o.Requests, Concurrency: 1}
}

// initialSync is the initialsync scenario: -requests initial syncs with a
// timeline limit of benchSyncTimeline, then benchIncrementalRuns times as
// many incremental syncs with nothing new (timeout 0), each from the
// next_batch of the one before.
func (b *bench) initialSync(ctx context.Context) error {
	o := b.opts
	if o.Rooms < 1 {
		return errors.New("bench: initialsync needs -rooms of at least 1")
	}
	b.report.Params = o.syncParams()
	u, err := b.syncUser(ctx)
	if err != nil {
		return err
	}
	var next string
	err = b.load(ctx, loadSpec{
		name: fmt.Sprintf("initial sync, timeline %d", benchSyncTimeline), workers: 1, count: evenShare(o.Requests, 1),
		op: func(ctx context.Context, _, _ int) (time.Duration, error) {
			a, took, err := b.client.sync(ctx, u, "", 0, benchSyncFilterJSON)
			if err == nil {
				next, err = a.NextBatch, checkInitialSync(a, o.Rooms)
			}
			return took, err
		},
	})
	if err != nil || next == "" {
		return errors.Join(err, errors.New("bench: no initial sync succeeded"))
	}
	return b.load(ctx, loadSpec{
		name: "incremental sync, nothing new", workers: 1, count: evenShare(o.Requests*benchIncrementalRuns, 1),
		op: func(ctx context.Context, _, _ int) (time.Duration, error) {
			a, took, err := b.client.sync(ctx, u, next, 0, benchSyncFilterJSON)
			switch {
			case err != nil:
			case len(a.Rooms.Join) > 0:
				err = fmt.Errorf("GET /sync: got %d joined rooms with news, want none", len(a.Rooms.Join))
			case a.NextBatch == "":
				err = errors.New("GET /sync: no next_batch")
			default:
				next = a.NextBatch
			}
			return took, err
		},
	})
}

// checkInitialSync checks that an initial sync has every room with a
// timeline of 1 to benchSyncTimeline events.
func checkInitialSync(a syncAnswer, rooms int) error {
	if a.NextBatch == "" {
		return errors.New("GET /sync: no next_batch")
	}
	if len(a.Rooms.Join) != rooms {
		return fmt.Errorf("GET /sync: got %d joined rooms, want %d", len(a.Rooms.Join), rooms)
	}
	for id, r := range a.Rooms.Join {
		if n := len(r.Timeline.Events); n < 1 || n > benchSyncTimeline {
			return fmt.Errorf("GET /sync: room %s: got %d timeline events, want 1 to %d", id, n, benchSyncTimeline)
		}
	}
	return nil
}

// sliding is the sliding scenario: -requests sliding sync requests, each
// on a new connection, for the benchSlidingRange most recent rooms.
func (b *bench) sliding(ctx context.Context) error {
	o := b.opts
	if o.Rooms < 1 {
		return errors.New("bench: sliding needs -rooms of at least 1")
	}
	b.report.Params = o.syncParams()
	u, err := b.syncUser(ctx)
	if err != nil {
		return err
	}
	want := min(benchSlidingRange, o.Rooms)
	return b.load(ctx, loadSpec{
		name: fmt.Sprintf("sliding sync list of %d", benchSlidingRange), workers: 1, count: evenShare(o.Requests, 1),
		op: func(ctx context.Context, _, _ int) (time.Duration, error) {
			a, took, err := b.client.slidingList(ctx, u, benchSlidingRange)
			if err != nil {
				return took, err
			}
			if got := a.Lists["all"].Count; got != o.Rooms || len(a.Rooms) != want || a.Pos == "" {
				return took, fmt.Errorf("POST sliding sync: got list count %d, %d rooms, pos %q; want %d, %d and a pos",
					got, len(a.Rooms), a.Pos, o.Rooms, want)
			}
			for id, r := range a.Rooms {
				if r.Name == "" || len(r.Timeline) != 1 {
					return took, fmt.Errorf("POST sliding sync: room %s: got name %q and %d timeline events, want a name and 1",
						id, r.Name, len(r.Timeline))
				}
			}
			return took, nil
		},
	})
}

// longpollRun is the state of a longpoll run shared by its goroutines.
// Times are durations since start (monotonic).
type longpollRun struct {
	b      *bench
	roomID string
	sender string // user id of the sender
	marker string // body of message i: marker + " " + i
	start  time.Time

	sentAt  []atomic.Int64    // when the send of message i started; 0: not yet
	got     [][]time.Duration // got[m][i]: latency of message i to member m, 0 if not delivered (written by m's poller only)
	polling atomic.Int64      // members whose long-polls have started
	answers atomic.Int64      // /sync answers received
	last    atomic.Int64      // when the last answer arrived
	deliver atomic.Int64      // deliveries of measured messages
}

func (lp *longpollRun) now() time.Duration { return time.Since(lp.start) }

// longpoll is the longpoll scenario: -users members of one public room,
// each holding a /sync long-poll, first idle for -duration (server CPU
// measured), then the room's creator sends -messages messages paced at
// -rate per second; each message's send-to-delivery time is taken for
// every member.
func (b *bench) longpoll(ctx context.Context) error {
	o := b.opts
	lp, users, err := b.longpollSetup(ctx)
	if err != nil {
		return err
	}
	since := make([]string, len(users))
	err = b.setup(ctx, "initial sync", len(users), func(ctx context.Context, i int) error {
		a, _, err := b.client.sync(ctx, users[i], "", 0, benchPollFilter)
		since[i] = a.NextBatch
		return err
	})
	if err != nil {
		return err
	}
	conns := make([]*pollConn, len(users))
	for m, u := range users {
		if conns[m], err = newPollConn(o.URL, u.Token, benchPollTimeout, benchPollFilter, benchPollTimeout+o.Timeout); err != nil {
			return err
		}
	}
	pollCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for m, pc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.close()
			lp.poll(pollCtx, m, pc, since[m])
		}()
	}
	err = lp.measure(ctx, users[0], o.Users)
	stop()
	wg.Wait()
	lp.report(o.Users, o.Messages)
	return err
}

// longpollSetup registers the members, creates the room and joins them.
func (b *bench) longpollSetup(ctx context.Context) (*longpollRun, []*benchUser, error) {
	o := b.opts
	b.report.Params = benchParams{
		Users: o.Users, Rooms: 1, RoomSize: o.Users, Messages: o.Messages, Concurrency: o.Users,
		Duration: o.longpollIdle().Seconds(), Rate: o.Rate,
	}
	users, roomID, err := b.usersInOneRoom(ctx, o.Users)
	if err != nil {
		return nil, nil, err
	}
	lp := &longpollRun{
		b: b, roomID: roomID, sender: users[0].ID, marker: "bench longpoll " + b.prefix, start: time.Now(),
		sentAt: make([]atomic.Int64, o.Messages), got: make([][]time.Duration, o.Users),
	}
	for m := range lp.got {
		lp.got[m] = make([]time.Duration, o.Messages)
	}
	return lp, users, nil
}

// longpollIdle is the length of longpoll's idle phase.
func (o benchOptions) longpollIdle() time.Duration {
	if o.Duration > 0 {
		return o.Duration
	}
	return benchIdlePhase
}

// poll is member m's client: long-poll after long-poll on pc from since
// until ctx ends, taking the arrival of each measured message.
func (lp *longpollRun) poll(ctx context.Context, m int, pc *pollConn, since string) {
	lp.polling.Add(1)
	for ctx.Err() == nil {
		sent := lp.now()
		a, took, err := pc.sync(ctx, since)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			lp.b.recordError(fmt.Errorf("long-poll: %w", err))
			sleepUntil(ctx, time.Now().Add(benchPollRetry))
			continue
		}
		arrived := sent + took
		lp.answers.Add(1)
		lp.last.Store(int64(arrived))
		lp.arrived(m, a, arrived)
		if a.NextBatch != "" {
			since = a.NextBatch
		}
	}
}

// arrived takes the measured messages of a sync answer to member m.
func (lp *longpollRun) arrived(m int, a syncAnswer, at time.Duration) {
	room, ok := a.Rooms.Join[lp.roomID]
	if !ok {
		return
	}
	for _, ev := range room.Timeline.Events {
		rest, ok := strings.CutPrefix(ev.Content.Body, lp.marker+" ")
		if !ok || ev.Type != "m.room.message" || ev.Sender != lp.sender {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err != nil || i < 0 || i >= len(lp.got[m]) || lp.sentAt[i].Load() == 0 {
			lp.b.recordError(fmt.Errorf("long-poll: unexpected message %q", ev.Content.Body))
			continue
		}
		if lp.got[m][i] != 0 {
			lp.b.recordError(fmt.Errorf("long-poll: message %d delivered twice to one member", i))
			continue
		}
		lp.got[m][i] = max(at-time.Duration(lp.sentAt[i].Load()), 1)
		lp.deliver.Add(1)
	}
}

// measure waits until every member's long-poll waits, measures the idle
// phase, then sends the messages and waits for their deliveries.
func (lp *longpollRun) measure(ctx context.Context, sender *benchUser, members int) error {
	b := lp.b
	fmt.Fprintf(b.progress, "bench: waiting for %d long-polls to settle...\n", members)
	lp.last.Store(int64(lp.now())) // quiet counts from here: the first answers may take a while
	for deadline := time.Now().Add(benchSettleMax); time.Now().Before(deadline); {
		if lp.polling.Load() == int64(members) && lp.now()-time.Duration(lp.last.Load()) >= benchSettleQuiet {
			break
		}
		if !sleepUntil(ctx, time.Now().Add(benchPollCheck)) {
			return ctx.Err()
		}
	}
	fmt.Fprintf(b.progress, "bench: measuring idle long-polls...\n")
	cpu := b.sampleCPU()
	before, start := lp.answers.Load(), time.Now()
	if !sleepUntil(ctx, start.Add(b.opts.longpollIdle())) {
		return ctx.Err()
	}
	idle := benchResult{Name: "idle long-polls (answers)", RoomSize: members,
		Count: int(lp.answers.Load() - before), Seconds: roundSeconds(time.Since(start))}
	cpu.finish(b, &idle)
	b.report.Results = append(b.report.Results, idle)
	return lp.sendAll(ctx, sender, members)
}

// sendAll sends the messages paced and waits up to benchDrainTimeout after
// the last for every delivery; it adds the sends to the report.
func (lp *longpollRun) sendAll(ctx context.Context, sender *benchUser, members int) error {
	b, n := lp.b, len(lp.sentAt)
	interval := benchSendInterval
	if b.opts.Rate > 0 {
		interval = time.Duration(float64(time.Second) / b.opts.Rate)
	}
	fmt.Fprintf(b.progress, "bench: measuring %d sends to %d long-polling members...\n", n, members)
	cpu := b.sampleCPU()
	res := benchResult{Name: "send message", RoomSize: members}
	var lats []time.Duration
	start := time.Now()
	for i := range n {
		if !sleepUntil(ctx, start.Add(interval*time.Duration(i))) {
			return ctx.Err()
		}
		lp.sentAt[i].Store(int64(lp.now()))
		took, err := b.client.send(ctx, sender, lp.roomID, fmt.Sprintf("%s %d", lp.marker, i))
		if err != nil {
			res.Errors++
			b.recordError(err)
			continue
		}
		lats = append(lats, took)
	}
	want := int64(members * n)
	for deadline := time.Now().Add(benchDrainTimeout); lp.deliver.Load() < want && time.Now().Before(deadline); {
		if !sleepUntil(ctx, time.Now().Add(benchPollCheck)) {
			return ctx.Err()
		}
	}
	elapsed := time.Since(start)
	res.Count, res.Seconds, res.PerSecond = len(lats), roundSeconds(elapsed), perSecond(len(lats), elapsed)
	res.setLatencies(lats)
	cpu.finish(b, &res)
	b.report.Results = append(b.report.Results, res)
	return nil
}

// report adds the send-to-delivery result: its count is the deliveries,
// its errors the deliveries missing (every member should get every
// message).
func (lp *longpollRun) report(members, messages int) {
	var lats []time.Duration
	for _, row := range lp.got {
		for _, d := range row {
			if d > 0 {
				lats = append(lats, d)
			}
		}
	}
	res := benchResult{Name: "send-to-delivery", RoomSize: members, Count: len(lats), Errors: members*messages - len(lats)}
	res.setLatencies(lats)
	if res.Errors > 0 {
		lp.b.recordError(fmt.Errorf("longpoll: %d of %d deliveries missing", res.Errors, members*messages))
	}
	lp.b.report.Results = append(lp.b.report.Results, res)
}

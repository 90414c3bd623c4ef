package push

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/internal/gencache"
	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// Deps are the collaborators of the Evaluator.
type Deps struct {
	DB    *storage.DB
	Rooms *roomserver.Roomserver
	Log   logrus.FieldLogger
	// Published, if set, is called when the counts of every event up to
	// a position become readable (see WaitFor), outside the Evaluator's
	// locks.
	Published func(pos int64)
}

// Evaluator matches every new event against the push rules of the room's
// local joined members (the sender excepted) and stores the notifications
// and unread counts that result. It follows the events stream from
// storage: OnOutput only wakes it, and the position it has evaluated up to
// is committed with the notifications, so that a restart resumes where it
// stopped, neither losing nor counting twice.
type Evaluator struct {
	db         *storage.DB
	rooms      *roomserver.Roomserver
	log        logrus.FieldLogger
	serverName string
	wake       chan struct{}
	onPublish  func(pos int64) // Deps.Published

	mu          sync.Mutex
	processed   int64         // every event up to it is evaluated and its notifications stored
	advanced    chan struct{} // closed when processed moves
	published   int64         // every event up to it is evaluated: counts from Counts include it
	publishedCh chan struct{} // closed when published moves
	flight      *flight       // the evaluated batch being stored, nil if none
	stalled     int64         // a WaitFor for it timed out

	// joined caches each room's joined members until a member event of
	// the room is committed (roomserver.MembersGen).
	joined gencache.Cache[string, joinedMembers]

	cacheMu  sync.Mutex
	rulesets map[string]*Compiled        // user id -> compiled ruleset and ignored users
	gen      uint64                      // bumped by every invalidation
	names    map[storage.EventNID]string // display names by member event; Run's only
	compiled compileCache
}

// Cache bounds: past them a cache starts again empty.
const (
	maxCachedRulesets = 100_000
	maxCachedNames    = 100_000
)

// New returns an Evaluator that resumes from the stored position.
func New(ctx context.Context, serverName string, deps Deps) (*Evaluator, error) {
	if deps.DB == nil || deps.Rooms == nil || deps.Log == nil || serverName == "" {
		return nil, errors.New("push: DB, Rooms, Log and a server name are required")
	}
	pos, err := deps.DB.StreamPos(ctx, storage.PushStream)
	if err != nil {
		return nil, err
	}
	return &Evaluator{
		db: deps.DB, rooms: deps.Rooms, log: deps.Log, serverName: serverName, onPublish: deps.Published,
		wake: make(chan struct{}, 1), processed: pos, advanced: make(chan struct{}),
		published: pos, publishedCh: make(chan struct{}),
		rulesets: map[string]*Compiled{}, names: map[storage.EventNID]string{},
		joined: gencache.Cache[string, joinedMembers]{Max: maxCachedRooms},
	}, nil
}

// OnOutput implements roomserver.Subscriber: it wakes Run.
func (e *Evaluator) OnOutput(context.Context, roomserver.Output) { e.nudge() }

// joinedMembers are a room's joined members: how many, and the local ones.
type joinedMembers struct {
	total int
	local []storage.Membership
}

// maxCachedRooms bounds the rooms whose members are cached.
const maxCachedRooms = 10_000

// joinedLocal returns the number of a room's joined members and its local
// joined members (shared: not to be changed), or storage.ErrNotFound.
func (e *Evaluator) joinedLocal(ctx context.Context, roomID string) (int, []storage.Membership, error) {
	gen := e.rooms.MembersGen(roomID)
	if j, ok := e.joined.Get(roomID, gen); ok {
		return j.total, j.local, nil
	}
	total, local, err := e.db.JoinedLocal(ctx, roomID, e.serverName)
	if err != nil {
		return 0, nil, err
	}
	e.joined.Put(roomID, gen, joinedMembers{total, local})
	return total, local, nil
}

func (e *Evaluator) nudge() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// retryDelay is how long Run waits after a failed evaluation; safetyTick
// how often it looks for events nobody told it about.
const (
	retryDelay = time.Second
	safetyTick = 10 * time.Second
)

// Run evaluates new events until ctx ends.
func (e *Evaluator) Run(ctx context.Context) error {
	tick := time.NewTicker(safetyTick)
	defer tick.Stop()
	for {
		if err := e.catchUp(ctx); err != nil && ctx.Err() == nil {
			e.log.WithError(err).Error("evaluate push rules")
			retry := time.NewTimer(retryDelay)
			select {
			case <-ctx.Done():
				retry.Stop()
				return nil
			case <-retry.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-tick.C:
		}
	}
}

// Processed returns the position up to which every event is evaluated
// and its notifications stored.
func (e *Evaluator) Processed() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.processed
}

// advance records that every event up to pos is stored.
func (e *Evaluator) advance(pos int64) {
	e.mu.Lock()
	if pos > e.processed {
		e.processed = pos
		close(e.advanced)
		e.advanced = make(chan struct{})
	}
	moved := e.publishLocked(pos)
	e.mu.Unlock()
	e.told(moved, pos)
}

// publishLocked records that every event up to pos is evaluated; it
// reports whether that moved the published position.
func (e *Evaluator) publishLocked(pos int64) bool {
	if pos <= e.published {
		return false
	}
	e.published = pos
	close(e.publishedCh)
	e.publishedCh = make(chan struct{})
	return true
}

// told calls Deps.Published, outside e.mu, if the published position
// moved to pos.
func (e *Evaluator) told(moved bool, pos int64) {
	if moved && e.onPublish != nil {
		e.onPublish(pos)
	}
}

// maxWait bounds WaitFor: counts a little stale beat a request that hangs
// on a stuck evaluator.
const maxWait = 5 * time.Second

// WaitFor waits until every event up to stream position pos is evaluated,
// so that counts read afterwards through Counts include them. It reports
// whether that happened before ctx ended or a few seconds passed; once a
// wait timed out, waits for positions up to it return at once until the
// evaluator gets past it.
func (e *Evaluator) WaitFor(ctx context.Context, pos int64) bool { return e.wait(ctx, pos, false) }

// WaitStored is WaitFor for the notifications of the events being stored,
// for those who change them in the database (read receipts).
func (e *Evaluator) WaitStored(ctx context.Context, pos int64) bool { return e.wait(ctx, pos, true) }

func (e *Evaluator) wait(ctx context.Context, pos int64, stored bool) bool {
	done, stalled, moved := e.waitState(pos, stored)
	if done || stalled {
		return done
	}
	e.nudge()
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	for {
		select {
		case <-moved:
		case <-timer.C:
			e.mu.Lock()
			e.stalled = max(e.stalled, pos)
			e.mu.Unlock()
			return false
		case <-ctx.Done():
			return false
		}
		if done, _, moved = e.waitState(pos, stored); done {
			return true
		}
	}
}

// waitState reports whether pos is evaluated (and stored, if stored),
// whether a wait for it timed out, and the channel closed at the next
// move.
func (e *Evaluator) waitState(pos int64, stored bool) (done, stalled bool, moved <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if stored {
		return e.processed >= pos, pos <= e.stalled, e.advanced
	}
	return e.published >= pos, pos <= e.stalled, e.publishedCh
}

// Rules returns a user's ruleset as stored (the server-default one if the
// user never changed it).
func (e *Evaluator) Rules(ctx context.Context, userID string) (*Ruleset, error) {
	stored, err := e.db.AccountData(ctx, e.localpart(userID), "", RulesType)
	if errors.Is(err, storage.ErrNotFound) {
		return Defaults(userID), nil
	}
	if err != nil {
		return nil, err
	}
	rs, err := Load(userID, stored)
	if err != nil { // unreadable content: the defaults, until the next change replaces it
		return Defaults(userID), nil
	}
	return rs, nil
}

// UpdateRules changes a user's ruleset with edit in one transaction and
// stores the result as the user's m.push_rules account data. An error from
// edit is returned as it is and changes nothing. The caller wakes the
// user's /sync.
func (e *Evaluator) UpdateRules(ctx context.Context, userID string, edit func(rs *Ruleset) error) error {
	err := e.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		_, err := tx.UpdateAccountData(ctx, e.localpart(userID), "", RulesType,
			func(old json.RawMessage) (json.RawMessage, error) {
				rs, err := Load(userID, old)
				if err != nil {
					rs = Defaults(userID) // unreadable content is replaced, not kept
				}
				if err := edit(rs); err != nil {
					return nil, err
				}
				return rs.AccountData()
			})
		return err
	})
	e.invalidate(userID)
	return err
}

// errUnchanged ends an UpdateRules edit that changes nothing.
var errUnchanged = errors.New("push: rules unchanged")

// CopyRoomRules carries the user's rules for the room from over to the
// room to (a room upgrade), reporting whether any were added. The caller
// wakes the user's /sync when they were.
func (e *Evaluator) CopyRoomRules(ctx context.Context, userID, from, to string) (bool, error) {
	err := e.UpdateRules(ctx, userID, func(rs *Ruleset) error {
		if !rs.CopyRoomRules(from, to) {
			return errUnchanged
		}
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	return err == nil, err
}

// IgnoredListChanged tells the Evaluator that the user changed its list of
// ignored users, which it caches with the user's rules; the caller calls it
// after the change is committed.
func (e *Evaluator) IgnoredListChanged(userID string) { e.invalidate(userID) }

// Ignored returns the users the local user ignores, from the cache it
// shares with the user's rules. The map is shared: callers must not
// change it.
func (e *Evaluator) Ignored(ctx context.Context, userID string) (map[string]bool, error) {
	e.cacheMu.Lock()
	cached, ok := e.rulesets[userID]
	e.cacheMu.Unlock()
	if ok { // every /sync asks: no map for one user
		return cached.ignored, nil
	}
	c, err := e.compiledRules(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	return c[userID].ignored, nil
}

// invalidate drops a user's cached ruleset.
func (e *Evaluator) invalidate(userID string) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	delete(e.rulesets, userID)
	e.gen++
}

// compiledRules returns the compiled rulesets of the users, with the users
// each ignores, loading the ones not cached in two queries.
func (e *Evaluator) compiledRules(ctx context.Context, users []string) (map[string]*Compiled, error) {
	out := make(map[string]*Compiled, len(users))
	var missing []string
	e.cacheMu.Lock()
	gen := e.gen
	for _, u := range users {
		if c, ok := e.rulesets[u]; ok {
			out[u] = c
		} else {
			missing = append(missing, e.localpart(u))
		}
	}
	e.cacheMu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	stored, err := e.db.GlobalAccountData(ctx, missing, RulesType)
	if err != nil {
		return nil, err
	}
	ignoreLists, err := e.db.GlobalAccountData(ctx, missing, IgnoredListType)
	if err != nil {
		return nil, err
	}
	loaded := make(map[string]*Compiled, len(missing))
	for _, localpart := range missing {
		userID := "@" + localpart + ":" + e.serverName
		rs, err := Load(userID, stored[localpart])
		if err != nil {
			e.log.WithError(err).WithField(logctx.FieldUserID, userID).Warn("unreadable push rules: using the defaults")
		}
		c := compile(rs, &e.compiled, userID)
		c.ignored = ParseIgnoredList(ignoreLists[localpart])
		loaded[userID] = c
		out[userID] = loaded[userID]
	}
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	if e.gen == gen { // no rules changed while they were read
		if len(e.rulesets)+len(loaded) > maxCachedRulesets {
			e.rulesets = map[string]*Compiled{}
		}
		for u, c := range loaded {
			e.rulesets[u] = c
		}
	}
	return out, nil
}

func (e *Evaluator) localpart(userID string) string {
	return strings.TrimSuffix(strings.TrimPrefix(userID, "@"), ":"+e.serverName)
}

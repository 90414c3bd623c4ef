package push

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// DispatcherDeps are the collaborators of the Dispatcher.
type DispatcherDeps struct {
	DB        *storage.DB
	Rooms     *roomserver.Roomserver
	Evaluator *Evaluator // its progress wakes the Dispatcher
	Log       logrus.FieldLogger
	// Client sends to push gateways; nil means a client that follows no
	// redirects. Every request gets its own timeout whatever the client.
	Client *http.Client
}

// Dispatcher delivers the notifications the Evaluator stores to the users'
// HTTP pushers (push gateway API, POST /_matrix/push/v1/notify).
//
// Each pusher has a durable position (storage.Pusher.DeliveredPos) that
// moves only after its gateway answered, so a restart resends whatever
// was not acknowledged; gateways suppress duplicates by event id. Each
// pusher with work has one goroutine and at most one request in flight,
// with its own exponential backoff: a slow or dead gateway delays only its
// own pushers. A goroutine ends when its pusher has nothing left to send.
type Dispatcher struct {
	db     *storage.DB
	rooms  *roomserver.Roomserver
	eval   *Evaluator
	log    logrus.FieldLogger
	client *http.Client

	timeout    time.Duration // per request
	minBackoff time.Duration
	maxBackoff time.Duration
	maxAge     time.Duration // a notification older than this is given up
	batch      int           // notifications read per query

	mu      sync.Mutex
	workers map[pusherKey]*worker
	wg      sync.WaitGroup
}

// pusherKey names a pusher.
type pusherKey struct{ user, appID, pushKey string }

// worker is the goroutine delivering to one pusher.
type worker struct {
	key     pusherKey
	pending bool // woken since its last pass started
}

// Dispatcher defaults.
const (
	sendTimeout     = 10 * time.Second
	minSendBackoff  = time.Second
	maxSendBackoff  = time.Hour
	maxPendingAge   = 24 * time.Hour
	sendBatch       = 20
	senderSafetyRun = time.Minute
)

// NewDispatcher returns a Dispatcher; Run starts it.
func NewDispatcher(deps DispatcherDeps) (*Dispatcher, error) {
	if deps.DB == nil || deps.Rooms == nil || deps.Evaluator == nil || deps.Log == nil {
		return nil, errors.New("push: sender needs DB, Rooms, Evaluator and Log")
	}
	client := deps.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Dispatcher{
		db: deps.DB, rooms: deps.Rooms, eval: deps.Evaluator, log: deps.Log, client: client,
		timeout: sendTimeout, minBackoff: minSendBackoff, maxBackoff: maxSendBackoff, maxAge: maxPendingAge,
		batch: sendBatch, workers: map[pusherKey]*worker{},
	}, nil
}

// progress returns the evaluator's position and a channel closed when it
// next moves.
func (e *Evaluator) progress() (int64, <-chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.processed, e.advanced
}

// Run delivers notifications until ctx ends, then waits for the pushers'
// goroutines. It starts with every HTTP pusher (resuming what a previous
// run left), then follows the evaluator: each time it moves, the pushers
// of the users it notified are woken.
func (s *Dispatcher) Run(ctx context.Context) error {
	defer s.wg.Wait()
	seen, _ := s.eval.progress()
	s.wakePushers(ctx, 0)
	tick := time.NewTicker(senderSafetyRun)
	defer tick.Stop()
	for {
		pos, advanced := s.eval.progress()
		if pos > seen {
			if s.wakePushers(ctx, seen) {
				seen = pos
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-advanced:
		case <-tick.C: // pushers set by other processes, failed look-ups
			if s.wakePushers(ctx, 0) {
				seen = pos
			}
		}
	}
}

// wakePushers wakes the HTTP pushers of users notified after position
// after (0: every HTTP pusher). It reports whether it could read them.
func (s *Dispatcher) wakePushers(ctx context.Context, after int64) bool {
	pushers, err := s.db.PushersOfKind(ctx, KindHTTP, after)
	if err != nil {
		if ctx.Err() == nil {
			s.log.WithError(err).Error("push: read pushers")
		}
		return false
	}
	for _, p := range pushers {
		s.wake(ctx, pusherKey{p.UserID, p.AppID, p.PushKey})
	}
	return true
}

// wake marks a pusher as having work, starting its goroutine if it has
// none.
func (s *Dispatcher) wake(ctx context.Context, key pusherKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.workers[key]; ok {
		w.pending = true
		return
	}
	w := &worker{key: key}
	s.workers[key] = w
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runWorker(ctx, w)
	}()
}

// runWorker delivers to one pusher until nothing is left, then ends; a
// wake during a pass runs another pass.
func (s *Dispatcher) runWorker(ctx context.Context, w *worker) {
	log := s.log.WithFields(logrus.Fields{logctx.FieldUserID: w.key.user, "app_id": w.key.appID})
	backoff := s.minBackoff
	for {
		s.mu.Lock()
		w.pending = false
		s.mu.Unlock()
		for {
			done, err := s.deliverNext(ctx, w.key, log)
			if ctx.Err() != nil {
				s.forget(w)
				return
			}
			if err == nil {
				backoff = s.minBackoff
				if done {
					break
				}
				continue
			}
			log.WithError(err).WithField("retry_in", backoff.String()).Warn("push: delivery failed")
			if !sleep(ctx, backoff) {
				s.forget(w)
				return
			}
			backoff = min(2*backoff, s.maxBackoff)
		}
		s.mu.Lock()
		if !w.pending {
			delete(s.workers, w.key)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

func (s *Dispatcher) forget(w *worker) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.workers, w.key)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// deliverNext sends the pusher's next batch of pending notifications and
// moves its position past those done. done reports that nothing is left
// (or the pusher is gone); an error is worth a retry after a backoff.
func (s *Dispatcher) deliverNext(ctx context.Context, key pusherKey, log logrus.FieldLogger) (done bool, err error) {
	p, err := s.db.Pusher(ctx, key.user, key.appID, key.pushKey)
	if errors.Is(err, storage.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	data, err := ParsePusherData(p.Data)
	if err != nil {
		log.WithError(err).Warn("push: unusable pusher data: nothing sent")
		return true, nil
	}
	notes, next, err := s.db.NotificationsAfter(ctx, p.UserID, p.DeliveredPos, s.batch)
	if err != nil {
		return false, err
	}
	if len(notes) == 0 {
		if next == 0 {
			return true, nil
		}
		// Only others' notifications so far: skip them durably.
		return false, s.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			return tx.SetPusherDelivered(ctx, p.UserID, p.AppID, p.PushKey, next)
		})
	}
	for _, n := range notes {
		out, err := s.deliver(ctx, p, data, n)
		switch {
		case err != nil && s.db.Now().Sub(time.UnixMilli(n.TS)) < s.maxAge:
			return false, err
		case err != nil:
			log.WithError(err).WithField(logctx.FieldEventID, n.EventID).Warn("push: notification too old: given up")
		case out == outcomeRefused:
			log.WithField(logctx.FieldEventID, n.EventID).Warn("push: gateway refused the notification")
		case out == outcomeRejected:
			log.Info("push: gateway rejected the pushkey: pusher removed")
			return true, s.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				err := tx.DeletePusher(ctx, p.UserID, p.AppID, p.PushKey)
				if errors.Is(err, storage.ErrNotFound) {
					return nil
				}
				return err
			})
		}
		if err := s.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			return tx.SetPusherDelivered(ctx, p.UserID, p.AppID, p.PushKey, n.StreamPos)
		}); err != nil {
			return false, err
		}
	}
	return next == 0, nil
}

package clientapi

import (
	"sync"
	"time"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/internal/mxerr"
)

// rateLimiter is a token bucket per key (a user id or a client address).
type rateLimiter struct {
	cfg     config.RateLimit
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(cfg config.RateLimit, now func() time.Time) *rateLimiter {
	return &rateLimiter{cfg: cfg, now: now, buckets: map[string]*bucket{}}
}

// allow takes one token from key's bucket, or returns M_LIMIT_EXCEEDED with
// the time until a token is available.
func (l *rateLimiter) allow(key string) error {
	if !l.cfg.Enabled {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: float64(l.cfg.Burst), last: now}
		l.buckets[key] = b
	}
	b.tokens = min(float64(l.cfg.Burst), b.tokens+now.Sub(b.last).Seconds()*l.cfg.PerSecond)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return nil
	}
	wait := time.Duration((1 - b.tokens) / l.cfg.PerSecond * float64(time.Second))
	return mxerr.LimitExceeded(wait)
}

// sweep forgets buckets that have refilled completely: they hold no state a
// new bucket would not.
func (l *rateLimiter) sweep() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.cfg.PerSecond >= float64(l.cfg.Burst) {
			delete(l.buckets, key)
		}
	}
}

package clientapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Session is the authenticated user of a request.
type Session struct {
	UserID    string
	Localpart string
	DeviceID  string
	IsGuest   bool
	IsAdmin   bool
	TokenHash string
	ExpiresAt time.Time // zero: the token never expires
}

// authenticate resolves the request's access token, from the cache when it
// can, from the database otherwise.
func (a *API) authenticate(r *http.Request) (*Session, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, mxerr.MissingToken("missing access token")
	}
	hash := hashToken(token)
	now := a.db.Now()
	s, found := a.sessions.get(hash, now)
	if !found {
		stored, err := a.db.SessionByToken(r.Context(), hash)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, mxerr.UnknownToken(false, "unknown access token")
		}
		if err != nil {
			return nil, err
		}
		if stored.Deactivated {
			return nil, mxerr.UnknownToken(false, "account deactivated")
		}
		s = &Session{
			UserID:    a.userID(stored.Localpart),
			Localpart: stored.Localpart,
			DeviceID:  stored.DeviceID,
			IsGuest:   stored.IsGuest,
			IsAdmin:   stored.IsAdmin,
			TokenHash: hash,
			ExpiresAt: stored.ExpiresAt,
		}
		a.sessions.put(s, now)
	}
	if !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt) {
		return nil, mxerr.UnknownToken(true, "access token expired")
	}
	a.noteSeen(s, r, now)
	return s, nil
}

// sessionTTL bounds how long a cached session is trusted without asking the
// database. Revocations in this process take effect at once; the TTL bounds
// the delay for changes made by another process on the same database.
const sessionTTL = time.Minute

// sessionCache maps token hashes to sessions, so that authenticating a
// request needs no database round-trip in the common case.
type sessionCache struct {
	mu       sync.RWMutex
	byHash   map[string]cachedSession
	byDevice map[deviceKey]map[string]struct{} // for revoking a device's tokens
}

type cachedSession struct {
	s        *Session
	cachedAt time.Time
	seenAt   time.Time // last time a last-seen update was queued
}

type deviceKey struct{ localpart, deviceID string }

func newSessionCache() *sessionCache {
	return &sessionCache{byHash: map[string]cachedSession{}, byDevice: map[deviceKey]map[string]struct{}{}}
}

func (c *sessionCache) get(hash string, now time.Time) (*Session, bool) {
	c.mu.RLock()
	e, ok := c.byHash[hash]
	c.mu.RUnlock()
	if !ok || now.Sub(e.cachedAt) > sessionTTL {
		return nil, false
	}
	return e.s, true
}

func (c *sessionCache) put(s *Session, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byHash[s.TokenHash] = cachedSession{s: s, cachedAt: now}
	k := deviceKey{s.Localpart, s.DeviceID}
	if c.byDevice[k] == nil {
		c.byDevice[k] = map[string]struct{}{}
	}
	c.byDevice[k][s.TokenHash] = struct{}{}
}

// dueForSeen reports whether a last-seen update for the token should be
// written now, at most once per interval, and marks it written.
func (c *sessionCache) dueForSeen(hash string, now time.Time, interval time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byHash[hash]
	if !ok || now.Sub(e.seenAt) < interval {
		return false
	}
	e.seenAt = now
	c.byHash[hash] = e
	return true
}

// revokeDevices forgets every token of the devices.
func (c *sessionCache) revokeDevices(localpart string, deviceIDs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range deviceIDs {
		k := deviceKey{localpart, id}
		for hash := range c.byDevice[k] {
			delete(c.byHash, hash)
		}
		delete(c.byDevice, k)
	}
}

// revokeUser forgets every token of a user, for changes that affect all its
// sessions (deactivation, admin status).
func (c *sessionCache) revokeUser(localpart string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, hashes := range c.byDevice {
		if k.localpart != localpart {
			continue
		}
		for hash := range hashes {
			delete(c.byHash, hash)
		}
		delete(c.byDevice, k)
	}
}

// sweep drops entries past their TTL.
func (c *sessionCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for hash, e := range c.byHash {
		if now.Sub(e.cachedAt) > sessionTTL {
			k := deviceKey{e.s.Localpart, e.s.DeviceID}
			delete(c.byDevice[k], hash)
			if len(c.byDevice[k]) == 0 {
				delete(c.byDevice, k)
			}
			delete(c.byHash, hash)
		}
	}
}

// seenInterval is how often a device's last-seen time and address are
// written: often enough for the device list, rarely enough to keep requests
// free of writes.
const seenInterval = 5 * time.Minute

type seenUpdate struct {
	localpart, deviceID, ip, userAgent string
}

// noteSeen queues a last-seen update for the session's device if one is due.
// The queue drops updates when full: last-seen is best effort.
func (a *API) noteSeen(s *Session, r *http.Request, now time.Time) {
	if !a.sessions.dueForSeen(s.TokenHash, now, seenInterval) {
		return
	}
	select {
	case a.seen <- seenUpdate{s.Localpart, s.DeviceID, clientIP(r), userAgent(r)}:
	default:
	}
}

func (a *API) recordSeen(ctx context.Context, u seenUpdate) {
	err := a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		return tx.TouchDevice(ctx, u.localpart, u.deviceID, u.ip, u.userAgent)
	})
	if err != nil && ctx.Err() == nil {
		a.log.WithError(err).WithField(logctx.FieldDeviceID, u.deviceID).Warn("record device last seen")
	}
}

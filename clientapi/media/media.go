// Package media is the media repository of the client API: uploads
// (direct and asynchronous), downloads, thumbnails and URL previews.
//
// Files live on disk under the media directory, named by the SHA-256 of
// their content, so identical uploads are stored once; the database holds
// what points at them (storage.Media, storage.Thumbnail). Bodies are
// streamed to disk while hashing and never held in memory whole. Media of
// other servers will be cached in the same tables, keyed by their server
// name, once federation exists; until then they are not found.
package media

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Config is what the media repository needs from the server's
// configuration.
type Config struct {
	// ServerName is the server part of the mxc:// URIs of local media.
	ServerName string
	config.Media
}

// Deps are the collaborators of the media repository.
type Deps struct {
	DB  *storage.DB
	Log logrus.FieldLogger
}

// Media is the media repository.
type Media struct {
	cfg     Config
	db      *storage.DB
	log     logrus.FieldLogger
	files   *fileStore
	fetcher *http.Client

	// refs serialises placing and removing files with the row changes that
	// reference them, so that a file is never removed while a new row is
	// about to name it. (One process; several processes sharing a media
	// directory would need a database lock here.)
	refs sync.Mutex
	// thumbJobs are uploads whose common thumbnail sizes Run makes.
	thumbJobs chan storage.Media
	// decodes bounds how many images are decoded at once (each may take
	// hundreds of megabytes).
	decodes     chan struct{}
	largeDecode sync.Mutex
	// making holds a lock per thumbnail being made, so that it is made once.
	making keyedMutex
	// uploads wakes downloads waiting for an asynchronous upload.
	uploads *waiters
}

// Limits and lifetimes of the repository.
const (
	// ReservationLifetime is how long an id from /create waits for its
	// upload (the spec recommends 24 hours).
	ReservationLifetime = 24 * time.Hour
	// MaxPendingUploads is how many reserved ids a user may have waiting.
	MaxPendingUploads = 50
	// mediaIDBytes is the entropy of a media id (24 URL-safe characters).
	mediaIDBytes = 18
	// maxMediaIDLength bounds media ids from requests.
	maxMediaIDLength = 255
	// sweepInterval is how often Run removes lapsed reservations and stale
	// URL previews.
	sweepInterval = 10 * time.Minute
)

// New returns the media repository, creating its directory if needed.
func New(cfg Config, deps Deps) (*Media, error) {
	if deps.DB == nil || deps.Log == nil {
		return nil, errors.New("media: DB and Log are required")
	}
	if cfg.ServerName == "" || cfg.Directory == "" {
		return nil, errors.New("media: server name and directory are required")
	}
	files, err := newFileStore(cfg.Directory)
	if err != nil {
		return nil, err
	}
	guard, err := newIPGuard(cfg.PreviewIPAllow, cfg.PreviewIPDeny)
	if err != nil {
		return nil, err
	}
	return &Media{
		cfg:       cfg,
		db:        deps.DB,
		log:       deps.Log,
		files:     files,
		fetcher:   newPreviewClient(guard),
		thumbJobs: make(chan storage.Media, 64),
		decodes:   make(chan struct{}, maxConcurrentDecodes),
		making:    keyedMutex{locks: map[string]*keyedLock{}},
		uploads:   newWaiters(),
	}, nil
}

// Run makes the common thumbnails of new uploads and removes lapsed
// reservations and stale URL previews, until ctx ends.
func (m *Media) Run(ctx context.Context) error {
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case job := <-m.thumbJobs:
			m.makeCommonThumbnails(ctx, job)
		case <-sweep.C:
			m.sweep(ctx)
		}
	}
}

// sweep removes reservations that lapsed and previews past their lifetime.
func (m *Media) sweep(ctx context.Context) {
	err := m.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		if _, err := tx.DeleteExpiredMedia(ctx, tx.Now.UnixMilli()); err != nil {
			return err
		}
		_, err := tx.DeleteURLPreviewsBefore(ctx, tx.Now.Add(-previewLifetime).UnixMilli())
		return err
	})
	if err != nil && ctx.Err() == nil {
		m.log.WithError(err).Warn("sweep media reservations and url previews")
	}
}

// MaxUploadBytes is the largest upload accepted, for /media/config.
func (m *Media) MaxUploadBytes() int64 { return m.cfg.MaxUploadBytes }

// MXC is the mxc:// URI of a media item.
func MXC(server, mediaID string) string {
	return "mxc://" + server + "/" + mediaID
}

// ParseMXC splits an mxc:// URI into server name and media id, both
// checked as checkIDs does.
func ParseMXC(uri string) (server, mediaID string, err error) {
	rest, ok := strings.CutPrefix(uri, "mxc://")
	if !ok {
		return "", "", mxerr.InvalidParam("not an mxc:// URI")
	}
	server, mediaID, _ = strings.Cut(rest, "/")
	return server, mediaID, checkIDs(server, mediaID)
}

// newMediaID returns a random media id of URL-safe characters.
func newMediaID() string {
	b := make([]byte, mediaIDBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ValidMediaID reports whether s may be a media id: 1 to 255 characters,
// each a letter, digit, "_" or "-" (the spec's grammar, which also keeps
// ids from ever naming a path: no ".", "/", "\" or "%").
func ValidMediaID(s string) bool {
	if len(s) == 0 || len(s) > maxMediaIDLength {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// checkIDs refuses a server name or media id from a request that does not
// follow the spec's grammar, with M_INVALID_PARAM.
func checkIDs(server, mediaID string) error {
	if !config.ValidServerName(server) {
		return mxerr.InvalidParam("invalid server name in media URI")
	}
	if !ValidMediaID(mediaID) {
		return mxerr.InvalidParam("invalid media id: only A-Z, a-z, 0-9, _ and - are allowed")
	}
	return nil
}

// checkLocal checks the ids and refuses media of other servers (not
// fetched over federation yet) with M_NOT_FOUND.
func (m *Media) checkLocal(server, mediaID string) error {
	if err := checkIDs(server, mediaID); err != nil {
		return err
	}
	if server != m.cfg.ServerName {
		return mxerr.NotFound("remote media is not available")
	}
	return nil
}

// notFound is the answer for media that does not exist.
func notFound() error { return mxerr.NotFound("media not found") }

// errorf wraps err with what was being done to a media item.
func errorf(server, mediaID, doing string, err error) error {
	return fmt.Errorf("%s %s: %w", doing, MXC(server, mediaID), err)
}

// keyedMutex is a set of mutexes by key, each alive while in use.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

// lock locks the key and returns its unlock function.
func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

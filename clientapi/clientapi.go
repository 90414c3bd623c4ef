// Package clientapi serves the Matrix client-server API.
package clientapi

import (
	"context"
	"errors"
	"github.com/ganglion/ganglion/internal/boundmap"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/clientapi/keys"
	"github.com/ganglion/ganglion/clientapi/media"
	"github.com/ganglion/ganglion/clientapi/presence"
	"github.com/ganglion/ganglion/clientapi/search"
	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
	"github.com/ganglion/ganglion/syncapi/push"
)

// Deps are the collaborators of the client API.
type Deps struct {
	DB       *storage.DB
	Rooms    *roomserver.Roomserver
	Syncer   *syncapi.Syncer
	Notifier *syncapi.Notifier
	Typing   *syncapi.Typing
	Push     *push.Evaluator
	Log      logrus.FieldLogger
	// Search, if set, is the search indexer: a search waits (a little)
	// for it to index the events committed before the search began.
	Search *search.Indexer
}

// API is the client-server API: an http.Handler plus the background work
// its handlers start (last-seen updates, rate limiter cleanup).
type API struct {
	cfg         *config.Config
	db          *storage.DB
	rooms       *roomserver.Roomserver
	syncer      *syncapi.Syncer
	notifier    *syncapi.Notifier
	typingState *syncapi.Typing
	push        *push.Evaluator
	index       *search.Indexer // nil: searches do not wait for it
	keys        *keys.Keys
	presence    *presence.Tracker
	media       *media.Media
	log         logrus.FieldLogger
	passwords   *Passwords
	sessions    *sessionCache
	filters     boundmap.Map[string, *syncapi.Filter] // parsed sync filters by JSON or user and id
	limiter     *rateLimiter
	seen        chan seenUpdate
	mux         *http.ServeMux
}

// New builds the client API from the configuration.
func New(cfg *config.Config, deps Deps) (*API, error) {
	if deps.DB == nil || deps.Rooms == nil || deps.Syncer == nil || deps.Notifier == nil || deps.Typing == nil ||
		deps.Push == nil || deps.Log == nil {
		return nil, errors.New("clientapi: DB, Rooms, Syncer, Notifier, Typing, Push and Log are required")
	}
	passwords, err := NewPasswords(cfg.Passwords)
	if err != nil {
		return nil, err
	}
	mediaRepo, err := media.New(media.Config{ServerName: cfg.ServerName, Media: cfg.Media}, media.Deps{DB: deps.DB, Log: deps.Log})
	if err != nil {
		return nil, err
	}
	a := &API{
		cfg:         cfg,
		db:          deps.DB,
		rooms:       deps.Rooms,
		syncer:      deps.Syncer,
		notifier:    deps.Notifier,
		typingState: deps.Typing,
		push:        deps.Push,
		index:       deps.Search,
		filters:     boundmap.Map[string, *syncapi.Filter]{Max: maxCachedFilters},
		keys:        keys.New(deps.DB, deps.Notifier, cfg.ServerName),
		presence:    presence.New(deps.DB, deps.Notifier, cfg.Presence.Enabled),
		media:       mediaRepo,
		log:         deps.Log,
		passwords:   passwords,
		sessions:    newSessionCache(),
		limiter:     newRateLimiter(cfg.RateLimit, deps.DB.Now),
		seen:        make(chan seenUpdate, 1024),
		mux:         http.NewServeMux(),
	}
	a.routes()
	return a, nil
}

// Run does the API's background work until ctx ends.
func (a *API) Run(ctx context.Context) error {
	mediaDone := make(chan error, 1)
	go func() { mediaDone <- a.media.Run(ctx) }()
	defer func() { <-mediaDone }()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u := <-a.seen:
			a.recordSeen(ctx, u)
		case <-sweep.C:
			a.limiter.sweep()
			a.sessions.sweep(a.db.Now())
			a.expireUIASessions(ctx)
			a.sweepPresence(ctx)
		}
	}
}

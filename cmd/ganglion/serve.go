package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/clientapi"
	"github.com/ganglion/ganglion/clientapi/search"
	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
	"github.com/ganglion/ganglion/syncapi/push"
)

// serveCommand is "ganglion serve".
func serveCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, created, err := loadConfig(*path, true)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	if created != "" {
		log.WithField("path", created).Info("first start: wrote a new config file")
	}
	return serve(ctx, cfg, log)
}

// serve runs the homeserver until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg *config.Config, log *logrus.Logger) error {
	srv, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.close()
	startPprof(log)
	ln, err := net.Listen("tcp", cfg.Listeners.Client.Address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listeners.Client.Address, err)
	}
	return srv.run(ctx, ln)
}

// server is a wired homeserver: every component, ready to serve.
type server struct {
	cfg      *config.Config
	log      *logrus.Logger
	db       *storage.DB
	notifier *syncapi.Notifier
	typing   *syncapi.Typing
	push     *push.Evaluator
	pushers  *push.Dispatcher
	indexer  *search.Indexer
	api      *clientapi.API
	http     *http.Server
}

// newServer opens the database and signing key and builds the components.
func newServer(ctx context.Context, cfg *config.Config, log *logrus.Logger) (*server, error) {
	key, created, err := config.LoadOrCreateSigningKey(cfg.SigningKeyPath)
	if err != nil {
		return nil, err
	}
	log.WithFields(logrus.Fields{"path": cfg.SigningKeyPath, "key_id": key.ID, "created": created}).Info("signing key")
	db, err := storage.Open(ctx, string(cfg.Database.URL), storage.Options{MaxOpenConns: cfg.Database.MaxOpenConns})
	if err != nil {
		return nil, err
	}
	if err := db.Claim(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", databaseLocation(cfg), err)
	}
	log.WithFields(logrus.Fields{"dialect": db.Dialect(), "location": databaseLocation(cfg)}).Info("database")
	rooms, err := roomserver.New(roomserver.Config{DefaultRoomVersion: cfg.Rooms.DefaultVersion}, roomserver.Deps{
		DB: db, Log: log, ServerName: cfg.ServerName, KeyID: key.ID, Key: key.Key,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	notifier, err := syncapi.NewNotifier(ctx, db, cfg.ServerName)
	if err != nil {
		db.Close()
		return nil, err
	}
	rooms.Subscribe(notifier)
	notifier.DeferWakes()
	evaluator, err := push.New(ctx, cfg.ServerName, push.Deps{DB: db, Rooms: rooms, Log: log, Published: notifier.Evaluated})
	if err != nil {
		db.Close()
		return nil, err
	}
	rooms.Subscribe(evaluator)
	pushers, err := push.NewDispatcher(push.DispatcherDeps{DB: db, Rooms: rooms, Evaluator: evaluator, Log: log})
	if err != nil {
		db.Close()
		return nil, err
	}
	indexer, err := search.New(search.Deps{DB: db, Log: log})
	if err != nil {
		db.Close()
		return nil, err
	}
	rooms.Subscribe(indexer)
	typing := syncapi.NewTyping(notifier, db.Now)
	syncer, err := syncapi.NewSyncer(syncapi.Deps{
		DB: db, Rooms: rooms, Notifier: notifier, Typing: typing, Push: evaluator, Log: log, Presence: cfg.Presence.Enabled,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	api, err := clientapi.New(cfg, clientapi.Deps{
		DB: db, Rooms: rooms, Syncer: syncer, Notifier: notifier, Typing: typing, Push: evaluator, Log: log,
		Search: indexer,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &server{
		cfg: cfg, log: log, db: db, notifier: notifier, typing: typing, push: evaluator, pushers: pushers, indexer: indexer,
		api: api,
		http: &http.Server{
			Handler:           api,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          newHTTPErrorLog(log),
		},
	}, nil
}

// run serves on ln and runs the background loops until ctx ends, then stops
// accepting requests and waits (up to a limit) for those in flight.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	loops := make(chan error, 5)
	go func() { loops <- s.api.Run(ctx) }()
	go func() { loops <- s.typing.Run(ctx) }()
	go func() { loops <- s.push.Run(ctx) }()
	go func() { loops <- s.pushers.Run(ctx) }()
	go func() { loops <- s.indexer.Run(ctx) }()

	s.log.WithFields(logrus.Fields{
		"address":      ln.Addr().String(),
		"server_name":  s.cfg.ServerName,
		"registration": s.cfg.Registration.Mode,
	}).Info("serving the client API")
	served := make(chan error, 1)
	go func() {
		if tls := s.cfg.Listeners.Client; tls.TLSCert != "" {
			served <- s.http.ServeTLS(ln, tls.TLSCert, tls.TLSKey)
		} else {
			served <- s.http.Serve(ln)
		}
	}()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	s.log.Info("shutting down")
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	if shutErr := s.http.Shutdown(shutdownCtx); shutErr != nil {
		err = errors.Join(err, shutErr)
	}
	cancel()
	err = errors.Join(err, <-loops, <-loops, <-loops, <-loops, <-loops)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *server) close() {
	if err := s.db.Close(); err != nil {
		s.log.WithError(err).Error("close database")
	}
}

// databaseLocation names the database for the start-up log without its
// password.
func databaseLocation(cfg *config.Config) string {
	url := string(cfg.Database.URL)
	if u, err := neturl.Parse(url); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return url
}

// newLogger builds the process logger from the log config.
func newLogger(cfg config.Log) (*logrus.Logger, error) {
	level, err := logrus.ParseLevel(cfg.Level)
	if err != nil {
		return nil, err
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetLevel(level)
	if cfg.Format == "json" {
		log.SetFormatter(&logrus.JSONFormatter{})
	}
	return log, nil
}

// newHTTPErrorLog routes net/http's own messages (TLS handshake errors and
// the like) to the process logger at warn level.
func newHTTPErrorLog(log *logrus.Logger) *stdlog.Logger {
	return stdlog.New(log.WriterLevel(logrus.WarnLevel), "", 0)
}

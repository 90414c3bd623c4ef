// Package roomserver is the room state engine: it builds, checks and stores
// events, keeps room state, and tells subscribers about every new event.
// Events from local clients and from other servers go through the same
// checks and the same persistence path.
package roomserver

import (
	"context"
	"crypto/ed25519"
	"errors"
	"github.com/ganglion/ganglion/internal/boundmap"
	"github.com/ganglion/ganglion/internal/gencache"
	"sync"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/storage"
)

// Config is the roomserver's part of the configuration.
type Config struct {
	// DefaultRoomVersion is used for new rooms that do not ask for one.
	DefaultRoomVersion string
}

// Deps are the roomserver's collaborators.
type Deps struct {
	DB         *storage.DB
	Log        logrus.FieldLogger
	ServerName string
	KeyID      string
	Key        ed25519.PrivateKey
}

// Roomserver is the room state engine.
type Roomserver struct {
	cfg        Config
	db         *storage.DB
	log        logrus.FieldLogger
	serverName spec.ServerName
	keyID      gmsl.KeyID
	key        ed25519.PrivateKey

	locks roomLocks
	sends sendQueues
	// memberGens advances per room with every member event committed.
	memberGens gencache.Generations[string]
	// visibilities holds the history visibility of recently asked snapshots.
	visibilities boundmap.Map[storage.SnapshotNID, string]
	// membershipsAt holds users' memberships in recently asked snapshots.
	membershipsAt boundmap.Map[snapshotUser, string]
	rooms         *roomCache
	pdus          *eventCache
	tails         tails
	versions      sync.Map // storage.RoomNID -> gmsl.IRoomVersion

	subsMu      sync.RWMutex
	subscribers []Subscriber
}

// New returns a roomserver. The default room version must be one the
// server supports.
func New(cfg Config, deps Deps) (*Roomserver, error) {
	if deps.DB == nil || deps.Log == nil || deps.ServerName == "" || deps.Key == nil {
		return nil, errors.New("roomserver: DB, Log, ServerName and Key are required")
	}
	if !SupportedVersion(cfg.DefaultRoomVersion) {
		return nil, errors.New("roomserver: default room version " + cfg.DefaultRoomVersion + " is not supported")
	}
	return &Roomserver{
		cfg:           cfg,
		db:            deps.DB,
		log:           deps.Log,
		serverName:    spec.ServerName(deps.ServerName),
		keyID:         gmsl.KeyID(deps.KeyID),
		key:           deps.Key,
		rooms:         newRoomCache(roomCacheSize),
		pdus:          newEventCache(eventCacheSize),
		visibilities:  boundmap.Map[storage.SnapshotNID, string]{Max: maxCachedVisibilities},
		membershipsAt: boundmap.Map[snapshotUser, string]{Max: maxCachedMembershipsAt},
	}, nil
}

// MembersGen is the generation of a room's memberships: it advances after
// the commit of every member event of the room, before subscribers are
// told. Caches of a room's members take it before reading them.
func (r *Roomserver) MembersGen(roomID string) uint64 { return r.memberGens.Of(roomID) }

// Subscribe adds s to the subscribers told about every new event after its
// commit. Call it while wiring, before serving.
func (r *Roomserver) Subscribe(s Subscriber) {
	r.subsMu.Lock()
	r.subscribers = append(r.subscribers, s)
	r.subsMu.Unlock()
}

// SupportedVersion reports whether the server can create and join rooms of
// the version.
func SupportedVersion(v string) bool {
	_, err := gmsl.GetRoomVersion(gmsl.RoomVersion(v))
	return err == nil && gmsl.StableRoomVersion(gmsl.RoomVersion(v))
}

// Versions lists the room versions the server supports.
func Versions() []string {
	var out []string
	for v := range gmsl.StableRoomVersions() {
		out = append(out, string(v))
	}
	return out
}

// userIDForSender maps sender ids to user ids: they are the same in every
// room version this server supports.
func userIDForSender(_ spec.RoomID, sender spec.SenderID) (*spec.UserID, error) {
	return sender.ToUserID(), nil
}

// notify tells every subscriber about committed events.
func (r *Roomserver) notify(ctx context.Context, outs []Output) {
	r.subsMu.RLock()
	subs := r.subscribers
	r.subsMu.RUnlock()
	for _, o := range outs {
		for _, s := range subs {
			s.OnOutput(ctx, o)
		}
	}
}

// Package config holds the server's configuration: one YAML file whose
// every option can be overridden from the environment, with defaults in code.
package config

import "time"

// Registration modes.
const (
	RegistrationDisabled = "disabled"
	RegistrationOpen     = "open"
	RegistrationToken    = "token"
)

// Config is the whole configuration. The doc comment of each field is the
// text generate-config writes above the option.
type Config struct {
	// The domain part of every user and room id on this server, e.g.
	// "example.org". It cannot be changed once users exist.
	ServerName string `yaml:"server_name"`
	// Directory for the signing key, the SQLite database and media, unless
	// their own options say otherwise. Relative paths in this file are
	// relative to the working directory.
	DataDir string `yaml:"data_dir"`
	// Path of the ed25519 signing key; created on first start if missing.
	// Empty means DATA_DIR/signing.key.
	SigningKeyPath string `yaml:"signing_key_path"`

	Listeners    Listeners    `yaml:"listeners"`
	Database     Database     `yaml:"database"`
	Registration Registration `yaml:"registration"`
	Passwords    Passwords    `yaml:"passwords"`
	Auth         Auth         `yaml:"auth"`
	RateLimit    RateLimit    `yaml:"rate_limit"`
	Log          Log          `yaml:"log"`
	Rooms        Rooms        `yaml:"rooms"`
	Media        Media        `yaml:"media"`
	Presence     Presence     `yaml:"presence"`
	HTTP         HTTP         `yaml:"http"`
	WellKnown    WellKnown    `yaml:"well_known"`

	UserDirectory UserDirectory `yaml:"user_directory"`
}

// Listeners are the addresses the server accepts connections on.
type Listeners struct {
	// The client-server API (what Element and other clients talk to).
	Client Listener `yaml:"client"`
	// The server-server (federation) API. Leave the address empty to serve
	// federation on the client listener.
	Federation Listener `yaml:"federation"`
}

// Listener is one address, optionally with TLS.
type Listener struct {
	// host:port to listen on.
	Address string `yaml:"address"`
	// PEM certificate chain file for TLS. Set it together with tls_key, or
	// leave both empty for plain HTTP (put a reverse proxy with TLS in front).
	TLSCert string `yaml:"tls_cert"`
	// PEM private key file for tls_cert.
	TLSKey string `yaml:"tls_key"`
}

// Database selects SQLite or PostgreSQL.
type Database struct {
	// "sqlite:PATH" (or just a path ending in .db) for SQLite, or a
	// "postgres://user:password@host/dbname" URL for PostgreSQL. Empty
	// means "sqlite:DATA_DIR/ganglion.db".
	URL Secret `yaml:"url"`
	// File holding the database URL, instead of putting it (and its
	// password) in this file.
	URLFile string `yaml:"url_file"`
	// Upper bound on open connections to PostgreSQL (SQLite uses one writer
	// and this many readers).
	MaxOpenConns int `yaml:"max_open_conns"`
}

// Registration controls who may create accounts.
type Registration struct {
	// "disabled" (only administrators create accounts, with
	// "ganglion user create"), "open" (anyone who can reach the server), or
	// "token" (a registration token is needed).
	Mode string `yaml:"mode"`
	// Secret for the shared-secret registration API
	// (/_synapse/admin/v1/register) used by admin tools; empty disables it.
	SharedSecret Secret `yaml:"shared_secret"`
	// File holding the shared secret, instead of putting it in this file.
	SharedSecretFile string `yaml:"shared_secret_file"`
	// Allow guest accounts (kind=guest).
	AllowGuests bool `yaml:"allow_guests"`
}

// Passwords sets the argon2id parameters for password hashes. Raising them
// makes hashes harder to crack and logins slower.
type Passwords struct {
	// Memory per hash in KiB.
	MemoryKiB uint32 `yaml:"memory_kib"`
	// Passes over the memory.
	Iterations uint32 `yaml:"iterations"`
	// Threads per hash.
	Parallelism uint8 `yaml:"parallelism"`
	// Shortest password accepted for new passwords.
	MinLength int `yaml:"min_length"`
}

// Auth controls access tokens.
type Auth struct {
	// Lifetime of access tokens for clients that support refresh tokens;
	// clients that do not get tokens that never expire.
	AccessTokenLifetime time.Duration `yaml:"access_token_lifetime"`
	// Lifetime of a login token from /login/get_token.
	LoginTokenLifetime time.Duration `yaml:"login_token_lifetime"`
}

// RateLimit limits requests per user and per client IP address.
type RateLimit struct {
	// Switch rate limiting on or off.
	Enabled bool `yaml:"enabled"`
	// Requests per second allowed on average.
	PerSecond float64 `yaml:"per_second"`
	// Requests allowed in a burst above the average.
	Burst int `yaml:"burst"`
}

// Log controls logging.
type Log struct {
	// One of "debug", "info", "warn", "error". At "debug" every request is
	// logged.
	Level string `yaml:"level"`
	// "text" or "json".
	Format string `yaml:"format"`
}

// Rooms sets defaults for rooms created on this server.
type Rooms struct {
	// Room version of new rooms that do not ask for one: "10", "11" or
	// "12" (rooms may ask for older versions; they are never the default).
	DefaultVersion string `yaml:"default_version"`
}

// Media controls the media repository.
type Media struct {
	// Where uploaded files are stored; defaults to DATA_DIR/media.
	Directory string `yaml:"directory"`
	// Largest upload accepted, in bytes.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
	// Total size of the files one user may upload, in bytes; 0 means
	// unlimited. An upload past it is refused with M_FORBIDDEN.
	QuotaBytes int64 `yaml:"quota_bytes"`
	// Serve media on the deprecated unauthenticated endpoints
	// (/_matrix/media/v3/download and /thumbnail). Off, they answer 404
	// M_NOT_FOUND for all media, as the spec recommends since Matrix 1.12,
	// and clients use the authenticated /_matrix/client/v1/media endpoints.
	LegacyUnauthenticated bool `yaml:"legacy_unauthenticated"`
	// IP ranges in CIDR notation ("10.20.0.0/16", "2001:db8::/32") that URL
	// previews may fetch from although they are refused otherwise: by
	// default private, loopback, link-local, multicast, unspecified and
	// other special-purpose addresses, and those in preview_ip_deny.
	PreviewIPAllow []string `yaml:"preview_ip_allow"`
	// IP ranges in CIDR notation that URL previews must never fetch from,
	// in addition to the special-purpose ranges always refused.
	PreviewIPDeny []string `yaml:"preview_ip_deny"`
}

// Presence controls whether users see each other online.
type Presence struct {
	// Track and share presence (online, unavailable, offline, status
	// messages) with the users who share a room. Off, nothing is stored or
	// sent, and every user appears offline.
	Enabled bool `yaml:"enabled"`
}

// HTTP controls request handling shared by all endpoints.
type HTTP struct {
	// Largest JSON request body accepted, in bytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Origins allowed to call the API from a browser ("*" for any).
	CORSOrigins []string `yaml:"cors_origins"`
}

// UserDirectory controls whom POST /user_directory/search finds.
type UserDirectory struct {
	// Find every local user, as an organisation-wide address book. Off,
	// users find only the users they share a room with and the members of
	// public rooms (those anyone may join or read), as the spec requires.
	SearchAllUsers bool `yaml:"search_all_users"`
}

// WellKnown sets what /.well-known/matrix/* answers.
type WellKnown struct {
	// Base URL clients should use, e.g. "https://matrix.example.org";
	// empty means /.well-known/matrix/client answers 404.
	ClientBaseURL string `yaml:"client_base_url"`
	// host:port other servers should use to reach this one; empty means
	// /.well-known/matrix/server answers 404.
	ServerDelegation string `yaml:"server_delegation"`
}

// Secret is a string that logs and error messages never show: String
// redacts it. (It is written in full to a config file.)
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// Default returns the configuration used when a file leaves an option out.
func Default() *Config {
	return &Config{
		ServerName: "localhost",
		DataDir:    "data",
		Listeners: Listeners{
			Client: Listener{Address: "127.0.0.1:8008"},
		},
		Database:     Database{MaxOpenConns: 10},
		Registration: Registration{Mode: RegistrationDisabled},
		Passwords:    Passwords{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1, MinLength: 8},
		Auth:         Auth{AccessTokenLifetime: 5 * time.Minute, LoginTokenLifetime: 2 * time.Minute},
		RateLimit:    RateLimit{Enabled: true, PerSecond: 10, Burst: 50},
		Log:          Log{Level: "info", Format: "text"},
		Rooms:        Rooms{DefaultVersion: "10"},
		Media:        Media{MaxUploadBytes: 50 << 20, PreviewIPAllow: []string{}, PreviewIPDeny: []string{}},
		HTTP:         HTTP{MaxBodyBytes: 4 << 20, CORSOrigins: []string{"*"}},
		Presence:     Presence{Enabled: true},
	}
}

package clientapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/ganglion/ganglion/internal/mxerr"
)

// maxUserIDLength is the spec's limit on a whole user id, sigil and server
// name included.
const maxUserIDLength = 255

// validLocalpart reports whether s may be the localpart of a new user: the
// spec's grammar for user ids (lower-case letters, digits and ._=-/+).
func validLocalpart(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.ContainsRune("._=-/+", c):
		default:
			return false
		}
	}
	return true
}

// localpartOf returns the localpart of a user id or localpart given at
// login: "@alice:example.org", "alice". A full id on another server gives
// ok false. Logins are case-insensitive, as ids are registered lower case.
func (a *API) localpartOf(user string) (localpart string, ok bool) {
	if !strings.HasPrefix(user, "@") {
		return strings.ToLower(user), true
	}
	local, server, found := strings.Cut(user[1:], ":")
	if !found || server != a.cfg.ServerName {
		return "", false
	}
	return strings.ToLower(local), true
}

// userID returns the full user id of a local user.
func (a *API) userID(localpart string) string {
	return "@" + localpart + ":" + a.cfg.ServerName
}

// ownLocalpart checks that userID names the authenticated user and returns
// its localpart; other users get M_FORBIDDEN.
func (a *API) ownLocalpart(s *Session, userID string) (string, error) {
	if userID != s.UserID {
		return "", mxerr.Forbidden("cannot act for another user")
	}
	return s.Localpart, nil
}

// randomString returns n random bytes as URL-safe base64.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// newDeviceID returns a random device id of ten upper-case letters.
func newDeviceID() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// Token prefixes make a leaked token recognisable (secret scanners) and tell
// the kinds apart.
const (
	accessTokenPrefix  = "gla_"
	refreshTokenPrefix = "glr_"
	loginTokenPrefix   = "gll_"
)

// newToken returns a fresh token with the prefix and 256 random bits.
func newToken(prefix string) string { return prefix + randomString(32) }

// hashToken is how tokens are stored and cached: never in clear.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

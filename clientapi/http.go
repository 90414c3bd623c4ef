package clientapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/internal/httpjson"
	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
)

// handlerFunc is a handler that needs no access token.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// userFunc is a handler for an authenticated user.
type userFunc func(w http.ResponseWriter, r *http.Request, s *Session) error

// public registers an endpoint that needs no access token.
func (a *API) public(pattern string, h handlerFunc) {
	a.mux.Handle(pattern, a.wrap(h))
}

// limitedPublic registers an endpoint without access token that is rate
// limited per client IP address.
func (a *API) limitedPublic(pattern string, h handlerFunc) {
	a.mux.Handle(pattern, a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		if err := a.limiter.allow("ip:" + clientIP(r)); err != nil {
			return err
		}
		return h(w, r)
	}))
}

// user registers an endpoint for authenticated users other than guests.
func (a *API) user(pattern string, h userFunc) { a.mux.Handle(pattern, a.wrap(a.authed(h, false))) }

// guest registers an endpoint for authenticated users, guests included.
func (a *API) guest(pattern string, h userFunc) { a.mux.Handle(pattern, a.wrap(a.authed(h, true))) }

func (a *API) authed(h userFunc, guestsAllowed bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		s, err := a.authenticate(r)
		if err != nil {
			return err
		}
		if s.IsGuest && !guestsAllowed {
			return mxerr.GuestAccessForbidden("guests cannot use this endpoint")
		}
		if err := a.limiter.allow("user:" + s.UserID); err != nil {
			return err
		}
		if info, ok := logctx.SourceOf(r.Context()).(*reqInfo); ok {
			info.userID = s.UserID // in the request's log lines from now on
		}
		return h(w, r, s)
	}
}

// wrap turns a handler's error into the Matrix error response.
func (a *API) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		if !mxerr.Write(w, err) && !errors.Is(err, context.Canceled) {
			logctx.From(r.Context()).WithError(err).Error("request failed")
		}
	})
}

var reqCounter atomic.Uint64

// reqInfo is the request's logctx.Source, with the user once known, and
// holds the request's query parameters, decoded once.
type reqInfo struct {
	log          logrus.FieldLogger
	id           uint64
	method, path string
	userID       string
	query        url.Values
}

// debugEnabled reports whether log writes debug lines.
func debugEnabled(log logrus.FieldLogger) bool {
	switch l := log.(type) {
	case *logrus.Logger:
		return l.IsLevelEnabled(logrus.DebugLevel)
	case *logrus.Entry:
		return l.Logger.IsLevelEnabled(logrus.DebugLevel)
	}
	return true
}

func (i *reqInfo) Logger() *logrus.Entry {
	fields := logrus.Fields{
		logctx.FieldReqID:  i.id,
		logctx.FieldMethod: i.method,
		logctx.FieldPath:   i.path, // never the query: it may hold an access token
	}
	if i.userID != "" {
		fields[logctx.FieldUserID] = i.userID
	}
	return i.log.WithFields(fields)
}

// ServeHTTP answers CORS preflights, attaches the request logger, serves the
// route, maps unknown paths (404) and wrong methods (405) to M_UNRECOGNIZED,
// recovers panics, and logs one line per request at debug level.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.setCORS(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusOK)
		return
	}
	start := time.Now()
	info := &reqInfo{log: a.log, id: reqCounter.Add(1), method: r.Method, path: r.URL.Path}
	r = r.WithContext(logctx.With(r.Context(), info))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			logctx.From(r.Context()).WithField("panic", p).Error("handler panicked")
			if !rec.wrote {
				mxerr.Write(rec, mxerr.Internal)
			}
		}
		if debugEnabled(a.log) {
			info.Logger().WithFields(logrus.Fields{
				"status":      rec.status,
				"duration_ms": time.Since(start).Milliseconds(),
			}).Debug("request")
		}
	}()
	r = legacyPath(r)
	h, pattern := a.mux.Handler(r)
	if pattern == "" {
		unrecognized(rec, r, h)
		return
	}
	q, ok := textOK(r)
	if !ok {
		mxerr.Write(rec, mxerr.InvalidParam("path and query must be UTF-8 without U+0000"))
		return
	}
	info.query = q
	a.mux.ServeHTTP(rec, r)
}

// textOK reports whether the decoded path and query parameters are UTF-8
// without U+0000: handlers pass them to the database, whose text columns
// (under PostgreSQL) hold nothing else. It returns the decoded query.
func textOK(r *http.Request) (url.Values, bool) {
	ok := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
	if !ok(r.URL.Path) {
		return nil, false
	}
	q := r.URL.Query()
	for k, vs := range q {
		if !ok(k) || slices.ContainsFunc(vs, func(v string) bool { return !ok(v) }) {
			return nil, false
		}
	}
	return q, true
}

// query returns the request's decoded query parameters as ServeHTTP read
// them, for endpoints every client calls all the time (/sync) not to decode
// them again. The values are shared: callers must not change them.
func query(r *http.Request) url.Values {
	if info, ok := logctx.SourceOf(r.Context()).(*reqInfo); ok && info.query != nil {
		return info.query
	}
	return r.URL.Query()
}

// unrecognized runs the mux's own not-found or method-not-allowed handler to
// learn which it is (and the Allow header), then answers with Matrix JSON.
func unrecognized(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := &statusRecorder{ResponseWriter: discardWriter{header: http.Header{}}, status: http.StatusOK}
	h.ServeHTTP(probe, r)
	if allow := probe.Header().Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	if probe.status == http.StatusMethodNotAllowed {
		mxerr.Write(w, mxerr.Unrecognized(http.StatusMethodNotAllowed, "method %s not allowed here", r.Method))
		return
	}
	mxerr.Write(w, mxerr.Unrecognized(http.StatusNotFound, "unrecognized request"))
}

func (a *API) setCORS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	origins := a.cfg.HTTP.CORSOrigins
	switch origin := r.Header.Get("Origin"); {
	case slices.Contains(origins, "*"):
		h["Access-Control-Allow-Origin"] = corsAnyOrigin
	case origin != "" && slices.Contains(origins, origin):
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	default:
		return
	}
	h["Access-Control-Allow-Methods"] = corsMethods
	h["Access-Control-Allow-Headers"] = corsHeaders
}

// The CORS header values every response shares (set, never changed in
// place; the keys are in canonical form).
var (
	corsAnyOrigin = []string{"*"}
	corsMethods   = []string{"GET, HEAD, POST, PUT, DELETE, OPTIONS"}
	corsHeaders   = []string{"X-Requested-With, Content-Type, Authorization, Date"}
)

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// clientIP is the address the request came from. X-Forwarded-For is not
// trusted: a reverse proxy's address then limits all its clients together,
// which is safe, unlike letting clients pick their own key.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// userAgent is the request's User-Agent as valid UTF-8: header values may
// carry any byte, and the device list stores it.
func userAgent(r *http.Request) string { return strings.ToValidUTF8(r.UserAgent(), "\uFFFD") }

// decode reads the JSON request body within the configured limits.
func (a *API) decode(r *http.Request, v any) error {
	return httpjson.Decode(r, a.cfg.HTTP.MaxBodyBytes, v)
}

// readBody reads the raw JSON request body within the configured limits.
func (a *API) readBody(r *http.Request) ([]byte, error) {
	return httpjson.ReadBody(r, a.cfg.HTTP.MaxBodyBytes)
}

// ok writes a 200 with the JSON body v.
func ok(w http.ResponseWriter, v any) error { return httpjson.Write(w, http.StatusOK, v) }

// empty is the {} body of endpoints that return nothing.
var empty = struct{}{}

// bearerToken returns the access token of a request: the Authorization
// header, or the deprecated access_token query parameter.
func bearerToken(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return "", false
		}
		return strings.TrimSpace(token), true
	}
	token := r.URL.Query().Get("access_token")
	return token, token != ""
}

// legacyPath serves the r0 paths of older clients and tools as their v3
// successors, which the spec made backwards compatible.
func legacyPath(r *http.Request) *http.Request {
	const r0, v3 = "/_matrix/client/r0/", "/_matrix/client/v3/"
	rest, ok := strings.CutPrefix(r.URL.Path, r0)
	if !ok {
		return r
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = v3 + rest
	if r.URL.RawPath != "" {
		r2.URL.RawPath = v3 + strings.TrimPrefix(r.URL.RawPath, r0)
	}
	return r2
}

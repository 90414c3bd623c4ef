package clientapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ganglion/ganglion/internal/httpjson"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
)

// maxSyncTimeout caps the long-poll of /sync: clients asking for more wait
// this long.
const maxSyncTimeout = 5 * time.Minute

// sync is GET /_matrix/client/v3/sync.
func (a *API) sync(w http.ResponseWriter, r *http.Request, s *Session) error {
	req, err := a.parseSync(r, s)
	if err != nil {
		return err
	}
	state, err := syncPresence(r, "")
	if err != nil {
		return err
	}
	a.syncedPresence(r, s, state)
	resp, err := a.syncer.Sync(r.Context(), req)
	if errors.Is(err, syncapi.ErrForeignToken) {
		return mxerr.InvalidParam("since token was not given out by this server: start again without since")
	}
	if err != nil {
		return err
	}
	if err := a.setSyncTxnIDs(r.Context(), s, resp); err != nil {
		return err
	}
	body, err := a.syncer.Shape(r.Context(), resp, req.Filter)
	if err != nil {
		return err
	}
	return ok(w, body)
}

func (a *API) parseSync(r *http.Request, s *Session) (syncapi.Request, error) {
	q := query(r)
	req := syncapi.Request{UserID: s.UserID, DeviceID: s.DeviceID, FullState: q.Get("full_state") == "true"}
	if since := q.Get("since"); since != "" {
		t, ok := syncapi.ParseStreamToken(since)
		if !ok {
			return req, mxerr.InvalidParam("malformed since token")
		}
		req.Since = &t
	}
	if v := q.Get("timeout"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return req, mxerr.InvalidParam("timeout must be a number of milliseconds")
		}
		// Clamped in milliseconds: a huge value would overflow a Duration.
		req.Timeout = time.Duration(min(max(ms, 0), maxSyncTimeout.Milliseconds())) * time.Millisecond
	}
	if v := q.Get("filter"); v != "" {
		f, err := a.syncFilter(r, s, v)
		if err != nil {
			return req, err
		}
		req.Filter = f
	}
	return req, nil
}

// syncFilter reads the filter parameter: inline JSON or a stored filter's
// id. Clients send the same filter with every /sync and stored filters
// never change, so parsed filters are kept (shared: nobody changes them).
func (a *API) syncFilter(r *http.Request, s *Session, v string) (*syncapi.Filter, error) {
	key := v
	if !strings.HasPrefix(v, "{") {
		key = s.Localpart + "\x00" + v
	}
	if f, ok := a.filters.Get(key); ok {
		return f, nil
	}
	raw := []byte(v)
	if !strings.HasPrefix(v, "{") {
		stored, err := a.db.Filter(r.Context(), s.Localpart, v)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, mxerr.NotFound("unknown filter %s", v)
		}
		if err != nil {
			return nil, err
		}
		raw = stored
	}
	var f syncapi.Filter
	if err := httpjson.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, mxerr.BadJSON("invalid filter: %v", err)
	}
	a.filters.Put(key, &f)
	return &f, nil
}

// maxCachedFilters bounds the parsed filters kept; past it the cache
// starts again empty.
const maxCachedFilters = 10_000

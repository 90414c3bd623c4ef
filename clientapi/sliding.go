package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/ganglion/ganglion/internal/httpjson"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/syncapi"
)

// slidingSync is POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync
// (simplified sliding sync, MSC4186). pos and timeout may come in the query
// string, as shipping clients send them, or in the body.
func (a *API) slidingSync(w http.ResponseWriter, r *http.Request, s *Session) error {
	body, err := a.readBody(r)
	if err != nil {
		return err
	}
	var req syncapi.SlidingRequest
	if err := httpjson.Unmarshal(body, &req); err != nil {
		return err
	}
	var inBody struct {
		Pos string `json:"pos"`
	}
	_ = json.Unmarshal(body, &inBody)
	q := query(r)
	req.Pos = inBody.Pos
	if v := q.Get("pos"); v != "" {
		req.Pos = v
	}
	if v := q.Get("timeout"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return mxerr.InvalidParam("timeout must be a number of milliseconds")
		}
		req.Timeout = max(ms, 0) // a negative timeout is clamped, like /sync's
	}
	if err := req.Validate(); err != nil {
		return mxerr.InvalidParam("%v", err)
	}
	state, err := syncPresence(r, req.SetPresence)
	if err != nil {
		return err
	}
	a.syncedPresence(r, s, state)
	resp, err := a.syncer.Sliding(r.Context(), s.UserID, s.DeviceID, req)
	if errors.Is(err, syncapi.ErrUnknownPos) {
		return mxerr.New(http.StatusBadRequest, "M_UNKNOWN_POS", "unknown position: start a new connection")
	}
	if err != nil {
		return err
	}
	return ok(w, resp)
}

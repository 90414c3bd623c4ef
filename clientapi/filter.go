package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ganglion/ganglion/internal/httpjson"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
)

// postFilter is POST /_matrix/client/v3/user/{userId}/filter: the filter is
// validated and stored as the client sent it.
func (a *API) postFilter(w http.ResponseWriter, r *http.Request, s *Session) error {
	if _, err := a.ownLocalpart(s, r.PathValue("userId")); err != nil {
		return err
	}
	body, err := a.readBody(r)
	if err != nil {
		return err
	}
	var f syncapi.Filter
	if err := httpjson.Unmarshal(body, &f); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return mxerr.BadJSON("invalid filter: %v", err)
	}
	var id string
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		id, err = tx.InsertFilter(ctx, s.Localpart, json.RawMessage(body))
		return err
	})
	if err != nil {
		return err
	}
	return ok(w, map[string]string{"filter_id": id})
}

// getFilter is GET /_matrix/client/v3/user/{userId}/filter/{filterId}.
func (a *API) getFilter(w http.ResponseWriter, r *http.Request, s *Session) error {
	if _, err := a.ownLocalpart(s, r.PathValue("userId")); err != nil {
		return err
	}
	f, err := a.db.Filter(r.Context(), s.Localpart, r.PathValue("filterId"))
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("unknown filter")
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(f)
	return err
}

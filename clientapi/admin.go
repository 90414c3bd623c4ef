package clientapi

import (
	"net/http"

	"github.com/ganglion/ganglion/internal/mxerr"
)

// Server administration endpoints. The Matrix specification has none; these
// answer on the /_synapse/admin paths that admin tools and scripts call, for
// accounts with the admin flag (ganglion user admin NAME).

// requireAdmin refuses a session that is not a server administrator's.
func requireAdmin(s *Session) error {
	if !s.IsAdmin {
		return mxerr.Forbidden("you are not a server administrator")
	}
	return nil
}

// adminDeleteMedia is DELETE /_synapse/admin/v1/media/{serverName}/{mediaId}:
// a server administrator deletes a local media item, its thumbnails, and
// the files that no other media shares. Unknown media gives 404
// M_NOT_FOUND, media of another server 400.
func (a *API) adminDeleteMedia(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := requireAdmin(s); err != nil {
		return err
	}
	mediaID := r.PathValue("mediaId")
	if err := a.media.DeleteLocal(r.Context(), r.PathValue("serverName"), mediaID); err != nil {
		return err
	}
	return ok(w, map[string]any{"deleted_media": []string{mediaID}, "total": 1})
}

package clientapi

import (
	"net/http"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
)

// specVersions are the client-server API versions whose endpoints the
// server implements, as far as it implements any: one list, served by
// /versions.
var specVersions = []string{"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"}

// versions is GET /_matrix/client/versions (client-server API, "API
// standards").
func (a *API) versions(w http.ResponseWriter, r *http.Request) error {
	return ok(w, map[string]any{
		"versions":          specVersions,
		"unstable_features": map[string]bool{"org.matrix.simplified_msc3575": true, "org.matrix.msc3814": true},
	})
}

// capabilities is GET /_matrix/client/v3/capabilities.
func (a *API) capabilities(w http.ResponseWriter, r *http.Request, s *Session) error {
	enabled := map[string]bool{"enabled": true}
	return ok(w, map[string]any{"capabilities": map[string]any{
		"m.change_password": enabled,
		"m.set_displayname": enabled,
		"m.set_avatar_url":  enabled,
		"m.3pid_changes":    map[string]bool{"enabled": false},
		"m.get_login_token": enabled,
		"m.room_versions":   a.roomVersions(),
	}})
}

// roomVersions is the m.room_versions capability: every room version the
// roomserver supports, and the configured default for new rooms.
func (a *API) roomVersions() map[string]any {
	available := map[string]string{}
	for _, v := range roomserver.Versions() {
		available[v] = "stable"
	}
	return map[string]any{"default": a.cfg.Rooms.DefaultVersion, "available": available}
}

// wellKnownClient is GET /.well-known/matrix/client: where clients find the
// server, if the operator configured a base URL.
func (a *API) wellKnownClient(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.WellKnown.ClientBaseURL == "" {
		return mxerr.NotFound("no client discovery information is configured")
	}
	return ok(w, map[string]any{"m.homeserver": map[string]string{"base_url": a.cfg.WellKnown.ClientBaseURL}})
}

// wellKnownServer is GET /.well-known/matrix/server (server-server API,
// "Server discovery"), if the operator configured a delegation.
func (a *API) wellKnownServer(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.WellKnown.ServerDelegation == "" {
		return mxerr.NotFound("no server delegation is configured")
	}
	return ok(w, map[string]string{"m.server": a.cfg.WellKnown.ServerDelegation})
}

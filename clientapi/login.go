package clientapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Login types.
const (
	loginPassword = "m.login.password"
	loginToken    = "m.login.token"
)

// loginFlows is GET /_matrix/client/v3/login.
func (a *API) loginFlows(w http.ResponseWriter, r *http.Request) error {
	return ok(w, map[string]any{"flows": []map[string]any{
		{"type": loginPassword},
		{"type": loginToken, "get_login_token": true},
	}})
}

type loginRequest struct {
	Type                     string      `json:"type"`
	Identifier               *identifier `json:"identifier"`
	User                     string      `json:"user"`
	Password                 string      `json:"password"`
	Token                    string      `json:"token"`
	DeviceID                 string      `json:"device_id"`
	InitialDeviceDisplayName *string     `json:"initial_device_display_name"`
	RefreshToken             bool        `json:"refresh_token"`
}

// loginResponse is the body of a successful login or registration.
type loginResponse struct {
	UserID       string `json:"user_id"`
	AccessToken  string `json:"access_token,omitempty"`
	DeviceID     string `json:"device_id,omitempty"`
	HomeServer   string `json:"home_server,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresInMS  int64  `json:"expires_in_ms,omitempty"`
}

// login is POST /_matrix/client/v3/login.
func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	var localpart string
	switch req.Type {
	case loginPassword:
		lp, err := a.checkPassword(ctx, req.Identifier, req.User, req.Password)
		if err != nil {
			return err
		}
		localpart = lp
	case loginToken:
		if req.Token == "" {
			return mxerr.MissingParam("token is required")
		}
	case "":
		return mxerr.MissingParam("type is required")
	default:
		return mxerr.Unknown("unsupported login type %s", req.Type)
	}
	var resp loginResponse
	err := a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		if req.Type == loginToken {
			lp, err := tx.UseLoginToken(ctx, hashToken(req.Token))
			if errors.Is(err, storage.ErrNotFound) {
				return mxerr.Forbidden("invalid or expired login token")
			}
			if err != nil {
				return err
			}
			localpart = lp
		}
		var err error
		resp, err = a.newSession(ctx, tx, r, newSession{
			localpart: localpart, deviceID: req.DeviceID,
			displayName: req.InitialDeviceDisplayName, refresh: req.RefreshToken,
		})
		return err
	})
	if err != nil {
		return err
	}
	// The device may have had a session before: its old tokens are gone.
	a.sessions.revokeDevices(localpart, []string{resp.DeviceID})
	return ok(w, resp)
}

// checkPassword returns the localpart of the account that the identifier
// names, if password is its password. Every failure is the same
// M_FORBIDDEN, so that the answer does not tell which part was wrong.
func (a *API) checkPassword(ctx context.Context, id *identifier, user, password string) (string, error) {
	if id != nil {
		if id.Type != "m.id.user" {
			return "", mxerr.Unknown("unsupported identifier type %q", id.Type)
		}
		user = id.User
	}
	if user == "" {
		return "", mxerr.MissingParam("identifier is required")
	}
	wrong := mxerr.Forbidden("invalid username or password")
	localpart, local := a.localpartOf(user)
	if !local {
		a.passwords.Verify("", password)
		return "", wrong
	}
	acct, err := a.db.Account(ctx, localpart)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	if !a.passwords.Verify(acct.PasswordHash, password) {
		return "", wrong
	}
	if acct.Deactivated {
		return "", mxerr.UserDeactivated("this account has been deactivated")
	}
	return localpart, nil
}

// newSession describes a login to create.
type newSession struct {
	localpart   string
	deviceID    string  // "" for a new random id
	displayName *string // for a new device
	refresh     bool    // the client supports refresh tokens
}

// newSession creates or reuses the device and issues its tokens, inside the
// caller's transaction.
func (a *API) newSession(ctx context.Context, tx *storage.Tx, r *http.Request, n newSession) (loginResponse, error) {
	if n.deviceID == "" {
		n.deviceID = newDeviceID()
	} else if n.displayName != nil {
		// The spec ignores initial_device_display_name for a known device.
		ids, err := tx.DeviceIDs(ctx, n.localpart)
		if err != nil {
			return loginResponse{}, err
		}
		if slices.Contains(ids, n.deviceID) {
			n.displayName = nil
		}
	}
	if err := tx.UpsertDevice(ctx, n.localpart, n.deviceID, n.displayName, clientIP(r), userAgent(r)); err != nil {
		return loginResponse{}, err
	}
	resp := loginResponse{UserID: a.userID(n.localpart), DeviceID: n.deviceID, HomeServer: a.cfg.ServerName}
	var err error
	resp.AccessToken, resp.RefreshToken, resp.ExpiresInMS, err = a.issueTokens(ctx, tx, n.localpart, n.deviceID, n.refresh, "")
	return resp, err
}

// issueTokens stores a new access token for the device and, if the client
// supports them, a refresh token (replacing prevRefresh) with an expiring
// access token.
func (a *API) issueTokens(ctx context.Context, tx *storage.Tx, localpart, deviceID string, refresh bool, prevRefresh string) (
	access, refreshToken string, expiresInMS int64, err error,
) {
	access = newToken(accessTokenPrefix)
	stored := storage.AccessToken{Hash: hashToken(access), Localpart: localpart, DeviceID: deviceID}
	if refresh && a.cfg.Auth.AccessTokenLifetime > 0 {
		refreshToken = newToken(refreshTokenPrefix)
		stored.RefreshHash = hashToken(refreshToken)
		stored.ExpiresAt = tx.Now.Add(a.cfg.Auth.AccessTokenLifetime)
		expiresInMS = a.cfg.Auth.AccessTokenLifetime.Milliseconds()
		if err := tx.InsertRefreshToken(ctx, storage.RefreshToken{
			Hash: stored.RefreshHash, Localpart: localpart, DeviceID: deviceID, PrevHash: prevRefresh,
		}); err != nil {
			return "", "", 0, err
		}
	}
	if err := tx.InsertAccessToken(ctx, stored); err != nil {
		return "", "", 0, err
	}
	return access, refreshToken, expiresInMS, nil
}

// refresh is POST /_matrix/client/v3/refresh.
func (a *API) refresh(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" {
		return mxerr.MissingParam("refresh_token is required")
	}
	var (
		resp loginResponse
		old  storage.RefreshToken
	)
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		var err error
		old, err = tx.UseRefreshToken(ctx, hashToken(req.RefreshToken))
		if errors.Is(err, storage.ErrNotFound) {
			return mxerr.UnknownToken(false, "unknown refresh token")
		}
		if err != nil {
			return err
		}
		resp.AccessToken, resp.RefreshToken, resp.ExpiresInMS, err = a.issueTokens(ctx, tx,
			old.Localpart, old.DeviceID, true, old.Hash)
		return err
	})
	if err != nil {
		return err
	}
	a.sessions.revokeDevices(old.Localpart, []string{old.DeviceID})
	return ok(w, map[string]any{
		"access_token":  resp.AccessToken,
		"refresh_token": resp.RefreshToken,
		"expires_in_ms": resp.ExpiresInMS,
	})
}

// getLoginToken is POST /_matrix/client/v1/login/get_token: a short-lived
// token with which another client logs in as this user (m.login.token).
func (a *API) getLoginToken(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Auth rawAuth `json:"auth"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	sess, err := a.uia(r.Context(), r, req.Auth, a.passwordUIA(s))
	if err != nil {
		return err
	}
	token := newToken(loginTokenPrefix)
	lifetime := a.cfg.Auth.LoginTokenLifetime
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		if err := consumeUIA(ctx, tx, sess); err != nil {
			return err
		}
		return tx.InsertLoginToken(ctx, hashToken(token), s.Localpart, tx.Now.Add(lifetime))
	})
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"login_token": token, "expires_in_ms": lifetime / time.Millisecond})
}

// passwordUIA is the auth that endpoints guarding an account ask for: the
// user's password.
func (a *API) passwordUIA(s *Session) uiaRequest {
	return uiaRequest{flows: [][]string{{authPassword}}, user: s}
}

package clientapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

type registerRequest struct {
	Auth                     rawAuth `json:"auth"`
	Username                 *string `json:"username"` // nil: generate one
	Password                 string  `json:"password"`
	DeviceID                 string  `json:"device_id"`
	InitialDeviceDisplayName *string `json:"initial_device_display_name"`
	InhibitLogin             bool    `json:"inhibit_login"`
	RefreshToken             bool    `json:"refresh_token"`
}

// register is POST /_matrix/client/v3/register.
func (a *API) register(w http.ResponseWriter, r *http.Request) error {
	var req registerRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	switch kind := r.URL.Query().Get("kind"); kind {
	case "", "user":
	case "guest":
		return a.registerGuest(w, r, req)
	default:
		return mxerr.InvalidParam("kind must be user or guest")
	}
	if a.cfg.Registration.Mode == config.RegistrationDisabled {
		return mxerr.Forbidden("registration is disabled on this server")
	}
	ctx := r.Context()
	var username string // "" until the transaction generates one
	if req.Username != nil {
		// User ids are lower case; like Synapse, take "Alice" as "alice".
		// An empty name is invalid, not a request for a generated one.
		username = strings.ToLower(*req.Username)
		if err := a.checkNewLocalpart(ctx, username); err != nil {
			return err
		}
	}
	if err := CheckNewAccount(a.cfg, "", req.Password); err != nil {
		return err
	}
	sess, err := a.uia(ctx, r, req.Auth, uiaRequest{flows: a.registrationFlows()})
	if err != nil {
		return err
	}
	hash, err := a.hashIfSet(req.Password)
	if err != nil {
		return err
	}
	var resp loginResponse
	err = a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		if err := consumeUIA(ctx, tx, sess); err != nil {
			return err
		}
		if sess.RegToken != "" {
			if err := tx.CompleteRegistrationToken(ctx, sess.RegToken); err != nil {
				return err
			}
		}
		localpart := username
		var err error
		if localpart == "" {
			if localpart, err = generatedLocalpart(ctx, tx); err != nil {
				return err
			}
		}
		resp, err = a.createAccount(ctx, tx, r, storage.Account{Localpart: localpart, PasswordHash: hash}, req)
		return err
	})
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// registrationFlows are the flows of the configured registration mode.
func (a *API) registrationFlows() [][]string {
	if a.cfg.Registration.Mode == config.RegistrationToken {
		return [][]string{{authRegistrationToken}}
	}
	return [][]string{{authDummy}}
}

// registerGuest creates a guest account with a numeric localpart.
func (a *API) registerGuest(w http.ResponseWriter, r *http.Request, req registerRequest) error {
	if !a.cfg.Registration.AllowGuests {
		return mxerr.GuestAccessForbidden("guest access is disabled on this server")
	}
	var resp loginResponse
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		localpart, err := generatedLocalpart(ctx, tx)
		if err != nil {
			return err
		}
		acct := storage.Account{Localpart: localpart, IsGuest: true}
		resp, err = a.createAccount(ctx, tx, r, acct, registerRequest{
			InitialDeviceDisplayName: req.InitialDeviceDisplayName, RefreshToken: req.RefreshToken,
		})
		return err
	})
	if err != nil {
		return err
	}
	return ok(w, resp)
}

// generatedLocalpart returns the next numeric localpart no account has
// (users may pick numeric names themselves), for guests and registrations
// without a username.
func generatedLocalpart(ctx context.Context, tx *storage.Tx) (string, error) {
	for {
		pos, err := tx.NextStreamPos(ctx, "guest")
		if err != nil {
			return "", err
		}
		localpart := strconv.FormatInt(pos, 10)
		if _, err := tx.Account(ctx, localpart); errors.Is(err, storage.ErrNotFound) {
			return localpart, nil
		} else if err != nil {
			return "", err
		}
	}
}

// createAccount inserts the account and, unless the request inhibits login,
// its first device and tokens.
func (a *API) createAccount(ctx context.Context, tx *storage.Tx, r *http.Request, acct storage.Account, req registerRequest) (loginResponse, error) {
	if err := tx.InsertAccount(ctx, acct); errors.Is(err, storage.ErrExists) {
		return loginResponse{}, mxerr.UserInUse("user id already taken")
	} else if err != nil {
		return loginResponse{}, err
	}
	if req.InhibitLogin {
		return loginResponse{UserID: a.userID(acct.Localpart), HomeServer: a.cfg.ServerName}, nil
	}
	return a.newSession(ctx, tx, r, newSession{
		localpart: acct.Localpart, deviceID: req.DeviceID,
		displayName: req.InitialDeviceDisplayName, refresh: req.RefreshToken,
	})
}

// CheckNewAccount applies the rules for a new account to a localpart and a
// password, each unless empty: the spec's user id grammar and length limit,
// and the configured password policy. It does not check whether the id is
// taken.
func CheckNewAccount(cfg *config.Config, localpart, password string) error {
	if localpart != "" {
		if !validLocalpart(localpart) {
			return mxerr.InvalidUsername("user ids may only contain a-z, 0-9 and . _ = - / +")
		}
		if len("@"+localpart+":"+cfg.ServerName) > maxUserIDLength {
			return mxerr.InvalidUsername("user id is longer than %d characters", maxUserIDLength)
		}
	}
	if password != "" && len(password) < cfg.Passwords.MinLength {
		return mxerr.New(http.StatusBadRequest, "M_WEAK_PASSWORD",
			"password must be at least %d characters", cfg.Passwords.MinLength)
	}
	if len(password) > maxPasswordLength {
		return mxerr.InvalidParam("password is longer than %d bytes", maxPasswordLength)
	}
	return nil
}

// maxPasswordLength bounds what is fed to the password hash.
const maxPasswordLength = 512

// checkNewLocalpart checks that a localpart may be registered: valid, and
// not taken (deactivated ids stay taken).
func (a *API) checkNewLocalpart(ctx context.Context, localpart string) error {
	if localpart == "" {
		return mxerr.InvalidUsername("user id is empty")
	}
	if err := CheckNewAccount(a.cfg, localpart, ""); err != nil {
		return err
	}
	taken, err := a.db.AccountExists(ctx, localpart)
	if err != nil {
		return err
	}
	if taken {
		return mxerr.UserInUse("user id already taken")
	}
	return nil
}

// hashIfSet hashes a password, leaving "" (no password login) as it is.
func (a *API) hashIfSet(password string) (string, error) {
	if password == "" {
		return "", nil
	}
	return a.passwords.Hash(password)
}

// registerAvailable is GET /_matrix/client/v3/register/available.
func (a *API) registerAvailable(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Registration.Mode == config.RegistrationDisabled {
		return mxerr.Forbidden("registration is disabled on this server")
	}
	if err := a.checkNewLocalpart(r.Context(), r.URL.Query().Get("username")); err != nil {
		return err
	}
	return ok(w, map[string]bool{"available": true})
}

// registrationTokenValidity is GET
// /_matrix/client/v1/register/m.login.registration_token/validity.
func (a *API) registrationTokenValidity(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Registration.Mode != config.RegistrationToken {
		return mxerr.Forbidden("registration tokens are not used on this server")
	}
	token := r.URL.Query().Get("token")
	if token == "" {
		return mxerr.MissingParam("token is required")
	}
	t, err := a.db.RegistrationToken(r.Context(), token)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return ok(w, map[string]bool{"valid": err == nil && t.Valid(a.db.Now())})
}

package clientapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// The shared-secret registration API lets admin tools (and the Complement
// test suite) create accounts with a secret from the config: the client
// fetches a nonce, then posts the new account with an HMAC-SHA1, keyed with
// the secret, over nonce, username, password and admin flag. Nonces live in
// uia_sessions under their own endpoint name, so they are single-use and
// shared by every process.

const (
	sharedSecretEndpoint = "shared-secret-register"
	nonceLifetime        = time.Minute
)

// sharedSecretNonce is GET /_synapse/admin/v1/register.
func (a *API) sharedSecretNonce(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Registration.SharedSecret == "" {
		return mxerr.NotFound("shared-secret registration is disabled")
	}
	nonce := randomString(24)
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.InsertUIASession(ctx, nonce, sharedSecretEndpoint)
	})
	if err != nil {
		return err
	}
	return ok(w, map[string]string{"nonce": nonce})
}

type sharedSecretRequest struct {
	Nonce       string  `json:"nonce"`
	Username    string  `json:"username"`
	DisplayName *string `json:"displayname"`
	Password    string  `json:"password"`
	Admin       bool    `json:"admin"`
	UserType    *string `json:"user_type"`
	MAC         string  `json:"mac"`
}

// mac computes the expected HMAC of the request.
func (req sharedSecretRequest) mac(secret string) []byte {
	h := hmac.New(sha1.New, []byte(secret))
	admin := "notadmin"
	if req.Admin {
		admin = "admin"
	}
	h.Write([]byte(req.Nonce + "\x00" + req.Username + "\x00" + req.Password + "\x00" + admin))
	if req.UserType != nil {
		h.Write([]byte("\x00" + *req.UserType))
	}
	return h.Sum(nil)
}

// sharedSecretRegister is POST /_synapse/admin/v1/register.
func (a *API) sharedSecretRegister(w http.ResponseWriter, r *http.Request) error {
	secret := string(a.cfg.Registration.SharedSecret)
	if secret == "" {
		return mxerr.NotFound("shared-secret registration is disabled")
	}
	var req sharedSecretRequest
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.Nonce == "" || req.Username == "" || req.Password == "" || req.MAC == "" {
		return mxerr.MissingParam("nonce, username, password and mac are required")
	}
	got, err := hex.DecodeString(req.MAC)
	if err != nil || !hmac.Equal(got, req.mac(secret)) {
		return mxerr.Forbidden("HMAC incorrect")
	}
	// The MAC covers the name as sent; the account gets it lower case.
	req.Username = strings.ToLower(req.Username)
	ctx := r.Context()
	if err := a.checkNewLocalpart(ctx, req.Username); err != nil {
		return err
	}
	hash, err := a.passwords.Hash(req.Password)
	if err != nil {
		return err
	}
	var resp loginResponse
	err = a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		n, err := tx.UIASession(ctx, req.Nonce)
		if errors.Is(err, storage.ErrNotFound) || (err == nil &&
			(n.Endpoint != sharedSecretEndpoint || tx.Now.Sub(n.CreatedAt) > nonceLifetime)) {
			return mxerr.Unknown("unrecognised nonce")
		}
		if err != nil {
			return err
		}
		if err := consumeUIA(ctx, tx, n); err != nil {
			return err
		}
		acct := storage.Account{Localpart: req.Username, PasswordHash: hash, IsAdmin: req.Admin}
		if resp, err = a.createAccount(ctx, tx, r, acct, registerRequest{}); err != nil {
			return err
		}
		if req.DisplayName != nil {
			return tx.SetDisplayName(ctx, req.Username, req.DisplayName)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return ok(w, resp)
}

package clientapi_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/ganglion/ganglion/config"
)

const sharedSecret = "correct horse battery staple"

// sharedSecretMAC is the HMAC admin tools send (Synapse's
// register_new_matrix_user).
func sharedSecretMAC(secret, nonce, username, password string, admin bool) string {
	h := hmac.New(sha1.New, []byte(secret))
	flag := "notadmin"
	if admin {
		flag = "admin"
	}
	h.Write([]byte(nonce + "\x00" + username + "\x00" + password + "\x00" + flag))
	return hex.EncodeToString(h.Sum(nil))
}

// nonce fetches a shared-secret registration nonce.
func (s *testServer) nonce(t *testing.T) string {
	t.Helper()
	r := s.do(t, "GET", "/_synapse/admin/v1/register", "", nil)
	wantOK(t, r)
	if r.str("nonce") == "" {
		t.Fatalf("got %s, want a nonce", r.Raw)
	}
	return r.str("nonce")
}

// TestSharedSecret checks shared-secret registration. Registration is
// otherwise disabled: admin tools must still work.
func TestSharedSecret(t *testing.T) {
	configure := func(cfg *config.Config) {
		cfg.Registration.Mode = config.RegistrationDisabled
		cfg.Registration.SharedSecret = sharedSecret
	}
	eachServer(t, configure, func(t *testing.T, s *testServer) {
		post := func(nonce, username, password string, admin bool, mac string) response {
			return s.do(t, "POST", "/_synapse/admin/v1/register", "", map[string]any{
				"nonce": nonce, "username": username, "password": password, "admin": admin, "mac": mac,
			})
		}
		t.Run("Admin", func(t *testing.T) {
			nonce := s.nonce(t)
			r := post(nonce, "root", "root-password", true, sharedSecretMAC(sharedSecret, nonce, "root", "root-password", true))
			wantOK(t, r)
			if r.str("user_id") != userID("root") {
				t.Fatalf("got %s, want %s", r.Raw, userID("root"))
			}
			s.wantToken(t, r.str("access_token"), true)
			acct, err := s.DB.Account(t.Context(), "root")
			if err != nil || !acct.IsAdmin {
				t.Fatalf("got account %+v, %v, want an admin", acct, err)
			}
			s.wantLogin(t, "root", "root-password", true)
		})
		t.Run("NotAdmin", func(t *testing.T) {
			nonce := s.nonce(t)
			r := s.do(t, "POST", "/_synapse/admin/v1/register", "", map[string]any{
				"nonce": nonce, "username": "Plain", "password": "plain-password", "displayname": "Plain User",
				"mac": sharedSecretMAC(sharedSecret, nonce, "Plain", "plain-password", false),
			})
			wantOK(t, r)
			acct, err := s.DB.Account(t.Context(), "plain")
			if err != nil || acct.IsAdmin {
				t.Fatalf("got account %+v, %v, want a plain user", acct, err)
			}
			r = s.do(t, "GET", v3+"/profile/"+userID("plain")+"/displayname", "", nil)
			wantOK(t, r)
			if r.Body["displayname"] != "Plain User" {
				t.Fatalf("got %s, want the display name", r.Raw)
			}
		})
		t.Run("WrongMAC", func(t *testing.T) {
			nonce := s.nonce(t)
			for _, mac := range []string{
				sharedSecretMAC("wrong secret", nonce, "eve", "eve-password", false),
				sharedSecretMAC(sharedSecret, nonce, "eve", "eve-password", false), // admin flag differs
				sharedSecretMAC(sharedSecret, nonce, "eve", "other-password", true),
				sharedSecretMAC(sharedSecret, "other-nonce", "eve", "eve-password", true),
				"not hex", "00",
			} {
				wantErr(t, post(nonce, "eve", "eve-password", true, mac), http.StatusForbidden, "M_FORBIDDEN")
			}
			wantAccount(t, s.DB, "eve", false)
		})
		t.Run("NonceReused", func(t *testing.T) {
			nonce := s.nonce(t)
			wantOK(t, post(nonce, "frank", "frank-password", false, sharedSecretMAC(sharedSecret, nonce, "frank", "frank-password", false)))
			r := post(nonce, "grace", "grace-password", true, sharedSecretMAC(sharedSecret, nonce, "grace", "grace-password", true))
			if r.Status != http.StatusForbidden && r.Status != http.StatusBadRequest {
				t.Fatalf("reused nonce: got %d %s, want 400 or 403", r.Status, r.Raw)
			}
			wantAccount(t, s.DB, "grace", false)
		})
		t.Run("UnknownNonce", func(t *testing.T) {
			// A user-interactive auth session is no nonce, though both
			// live in one table.
			root := s.mustLogin(t, "root", "root-password")
			session := wantChallenge(t, s.do(t, "POST", v1+"/login/get_token", root.Token, nil), "", "m.login.password")
			expired := s.nonce(t)
			s.Clock.Advance(time.Minute + time.Second)
			for _, nonce := range []string{"made-up", session, expired} {
				r := post(nonce, "heidi", "heidi-password", false, sharedSecretMAC(sharedSecret, nonce, "heidi", "heidi-password", false))
				wantErr(t, r, http.StatusBadRequest, "M_UNKNOWN")
			}
			wantAccount(t, s.DB, "heidi", false)
		})
		t.Run("Username", func(t *testing.T) {
			for _, c := range []struct{ name, errcode string }{
				{"root", "M_USER_IN_USE"},
				{"bad name", "M_INVALID_USERNAME"},
				{"@ivan:" + serverName, "M_INVALID_USERNAME"},
			} {
				nonce := s.nonce(t)
				r := post(nonce, c.name, "good-password", false, sharedSecretMAC(sharedSecret, nonce, c.name, "good-password", false))
				wantErr(t, r, http.StatusBadRequest, c.errcode)
			}
			s.wantLogin(t, "root", "root-password", true)
		})
		t.Run("MissingFields", func(t *testing.T) {
			nonce := s.nonce(t)
			r := post(nonce, "judy", "", false, sharedSecretMAC(sharedSecret, nonce, "judy", "", false))
			wantErr(t, r, http.StatusBadRequest, "M_MISSING_PARAM")
			wantAccount(t, s.DB, "judy", false)
		})
	})
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		wantErr(t, s.do(t, "GET", "/_synapse/admin/v1/register", "", nil), http.StatusNotFound, "M_NOT_FOUND")
		r := s.do(t, "POST", "/_synapse/admin/v1/register", "", map[string]any{
			"nonce": "n", "username": "root", "password": "root-password", "mac": sharedSecretMAC("", "n", "root", "root-password", false),
		})
		wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
		wantAccount(t, s.DB, "root", false)
	})
}

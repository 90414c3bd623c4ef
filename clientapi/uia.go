package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Auth types of user-interactive auth.
const (
	authPassword          = "m.login.password"
	authDummy             = "m.login.dummy"
	authRegistrationToken = "m.login.registration_token"
)

// errOtherUser answers an auth stage that proves another user's identity:
// not a failed attempt to retry, but a request the user may not make.
var errOtherUser = mxerr.Forbidden("the credentials are for another user")

// uiaLifetime is how long a user-interactive auth session may take.
const uiaLifetime = time.Hour

// authDict is the "auth" object of a request body.
type authDict struct {
	Type       string      `json:"type"`
	Session    string      `json:"session"`
	Identifier *identifier `json:"identifier"`
	User       string      `json:"user"` // deprecated form of identifier
	Password   string      `json:"password"`
	Token      string      `json:"token"`
}

// identifier is a user identifier object; only m.id.user is supported.
type identifier struct {
	Type string `json:"type"`
	User string `json:"user"`
}

// uiaRequest describes what a request needs to authenticate.
type uiaRequest struct {
	flows [][]string
	user  *Session // the requesting user; nil for registration
}

// uia runs one step of user-interactive auth for r, whose body carried the
// raw "auth" object. It returns the session once a flow is complete; the
// caller consumes it (consumeUIA) in the transaction of the operation.
// Otherwise it returns the 401 *mxerr.Error that tells the client what to do
// next.
func (a *API) uia(ctx context.Context, r *http.Request, raw json.RawMessage, req uiaRequest) (storage.UIASession, error) {
	endpoint := r.Method + " " + r.URL.Path
	var auth authDict
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &auth); err != nil {
			return storage.UIASession{}, mxerr.BadJSON("auth must be an object")
		}
	}
	sess, fresh, err := a.uiaSession(ctx, auth.Session, endpoint, req.user)
	if err != nil {
		return storage.UIASession{}, err
	}
	if auth.Type == "" {
		if !fresh && flowDone(req.flows, sess.Completed) {
			return sess, nil
		}
		return storage.UIASession{}, uiaChallenge(req.flows, sess, nil)
	}
	if !slices.Contains(sess.Completed, auth.Type) {
		if !stageAllowed(req.flows, sess.Completed, auth.Type) {
			return storage.UIASession{}, uiaChallenge(req.flows, sess,
				mxerr.Forbidden("auth type %s is not the next stage of any flow", auth.Type))
		}
		if err := a.uiaStage(ctx, &sess, auth, req); err != nil {
			var mx *mxerr.Error
			if errors.As(err, &mx) && err != errOtherUser {
				return storage.UIASession{}, uiaChallenge(req.flows, sess, mx)
			}
			return storage.UIASession{}, err
		}
		sess.Completed = append(sess.Completed, auth.Type)
		if err := a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			if sess.RegToken != "" && auth.Type == authRegistrationToken {
				if err := tx.ReserveRegistrationToken(ctx, sess.RegToken); err != nil {
					return err
				}
			}
			return tx.UpdateUIASession(ctx, sess)
		}); errors.Is(err, storage.ErrNotFound) {
			sess.Completed, sess.RegToken = sess.Completed[:len(sess.Completed)-1], ""
			return storage.UIASession{}, uiaChallenge(req.flows, sess, mxerr.Unauthorized("invalid registration token"))
		} else if err != nil {
			return storage.UIASession{}, err
		}
	}
	if flowDone(req.flows, sess.Completed) {
		return sess, nil
	}
	return storage.UIASession{}, uiaChallenge(req.flows, sess, nil)
}

// uiaSession loads the session the client named, or starts a new one if it
// named none, or one that is unknown, expired, used up, or was started for
// another request or user.
func (a *API) uiaSession(ctx context.Context, id, endpoint string, user *Session) (sess storage.UIASession, fresh bool, err error) {
	err = a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		if id != "" {
			s, err := tx.UIASession(ctx, id)
			switch {
			case errors.Is(err, storage.ErrNotFound):
			case err != nil:
				return err
			case !s.Consumed && s.Endpoint == endpoint && tx.Now.Sub(s.CreatedAt) < uiaLifetime &&
				(user == nil || s.Localpart == "" || s.Localpart == user.Localpart):
				sess = s
				return nil
			}
		}
		fresh = true
		sess = storage.UIASession{ID: randomString(18), Endpoint: endpoint, CreatedAt: tx.Now}
		return tx.InsertUIASession(ctx, sess.ID, endpoint)
	})
	return sess, fresh, err
}

// uiaStage checks the credentials of one stage.
func (a *API) uiaStage(ctx context.Context, sess *storage.UIASession, auth authDict, req uiaRequest) error {
	switch auth.Type {
	case authDummy:
		return nil
	case authPassword:
		if req.user == nil {
			return mxerr.Forbidden("password auth needs a logged-in user")
		}
		localpart, err := a.checkPassword(ctx, auth.Identifier, auth.User, auth.Password)
		if err != nil {
			return err
		}
		if localpart != req.user.Localpart {
			return errOtherUser
		}
		sess.Localpart = localpart
		return nil
	case authRegistrationToken:
		if auth.Token == "" {
			return mxerr.MissingParam("token is required")
		}
		sess.RegToken = auth.Token
		return nil
	default:
		return mxerr.Unknown("unsupported auth type %s", auth.Type)
	}
}

// consumeUIA uses up a completed session inside the operation's
// transaction, so that it authorises exactly one request.
func consumeUIA(ctx context.Context, tx *storage.Tx, sess storage.UIASession) error {
	err := tx.ConsumeUIASession(ctx, sess.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.Forbidden("this authentication session was already used")
	}
	return err
}

// uiaChallenge is the 401 that lists the flows, the stages completed so far
// and, after a failed attempt, the error.
func uiaChallenge(flows [][]string, sess storage.UIASession, cause *mxerr.Error) *mxerr.Error {
	type flow struct {
		Stages []string `json:"stages"`
	}
	fl := make([]flow, len(flows))
	for i, f := range flows {
		fl[i] = flow{Stages: f}
	}
	completed := sess.Completed
	if completed == nil {
		completed = []string{}
	}
	e := &mxerr.Error{Status: http.StatusUnauthorized, Extra: map[string]any{
		"flows":     fl,
		"params":    map[string]any{},
		"session":   sess.ID,
		"completed": completed,
	}}
	if cause != nil {
		e.Code, e.Message = cause.Code, cause.Message
	}
	return e
}

// flowDone reports whether completed is exactly one of the flows.
func flowDone(flows [][]string, completed []string) bool {
	for _, f := range flows {
		if slices.Equal(f, completed) {
			return true
		}
	}
	return false
}

// stageAllowed reports whether stage may come after completed in some flow.
func stageAllowed(flows [][]string, completed []string, stage string) bool {
	for _, f := range flows {
		if len(f) > len(completed) && slices.Equal(f[:len(completed)], completed) && f[len(completed)] == stage {
			return true
		}
	}
	return false
}

// expireUIASessions removes sessions older than uiaLifetime.
func (a *API) expireUIASessions(ctx context.Context) {
	err := a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		return tx.ExpireUIASessions(ctx, tx.Now.Add(-uiaLifetime))
	})
	if err != nil && ctx.Err() == nil {
		a.log.WithError(err).WithField(logctx.FieldStream, "uia").Warn("expire uia sessions")
	}
}

// rawAuth is the unparsed "auth" field of a request body; uia parses it.
type rawAuth = json.RawMessage

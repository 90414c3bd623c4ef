package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/syncapi/push"
)

// Push rules live in the user's m.push_rules account data; syncapi/push
// holds the server-default rules, the edits and their checks.

// getPushRules is GET /_matrix/client/v3/pushrules/ (client-server API,
// Push Rules: API): every ruleset, of which there is only global.
func (a *API) getPushRules(w http.ResponseWriter, r *http.Request, s *Session) error {
	rs, err := a.push.Rules(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	return ok(w, map[string]*push.Ruleset{"global": rs})
}

// getGlobalPushRules is GET /_matrix/client/v3/pushrules/global/
// (client-server API, Push Rules: API).
func (a *API) getGlobalPushRules(w http.ResponseWriter, r *http.Request, s *Session) error {
	rs, err := a.push.Rules(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	return ok(w, rs)
}

// pushRuleTarget reads the kind and rule id of a push rule path.
func pushRuleTarget(r *http.Request) (push.Kind, string, error) {
	kind, known := push.ParseKind(r.PathValue("kind"))
	if !known {
		if r.Method == http.MethodGet {
			return 0, "", mxerr.NotFound("no push rule kind %q", r.PathValue("kind"))
		}
		return 0, "", mxerr.InvalidParam("unknown push rule kind %q", r.PathValue("kind"))
	}
	return kind, r.PathValue("ruleId"), nil
}

// findPushRule returns the rule a path names.
func (a *API) findPushRule(r *http.Request, s *Session) (*push.Rule, error) {
	kind, id, err := pushRuleTarget(r)
	if err != nil {
		return nil, err
	}
	rs, err := a.push.Rules(r.Context(), s.UserID)
	if err != nil {
		return nil, err
	}
	rule, err := rs.Find(kind, id)
	return rule, pushRuleError(err)
}

// editPushRules applies edit to the user's rules and wakes the user's
// /sync, which carries the new m.push_rules.
func (a *API) editPushRules(w http.ResponseWriter, r *http.Request, s *Session, edit func(rs *push.Ruleset) error) error {
	if err := a.push.UpdateRules(r.Context(), s.UserID, edit); err != nil {
		return pushRuleError(err)
	}
	a.notifier.Wake(s.UserID)
	return ok(w, empty)
}

// pushRuleError maps the errors of rule edits to Matrix errors.
func pushRuleError(err error) error {
	switch {
	case errors.Is(err, push.ErrNotFound):
		return mxerr.NotFound("the push rule was not found")
	case errors.Is(err, push.ErrInvalid):
		return mxerr.InvalidParam("%s", err.Error())
	case errors.Is(err, push.ErrAnchor):
		return mxerr.Unknown("%s", err.Error())
	}
	return err
}

// getPushRule is GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
// (client-server API, Push Rules: API).
func (a *API) getPushRule(w http.ResponseWriter, r *http.Request, s *Session) error {
	rule, err := a.findPushRule(r, s)
	if err != nil {
		return err
	}
	return ok(w, rule)
}

// putPushRule is PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
// (client-server API, Push Rules: API), with the before and after query
// parameters.
func (a *API) putPushRule(w http.ResponseWriter, r *http.Request, s *Session) error {
	kind, id, err := pushRuleTarget(r)
	if err != nil {
		return err
	}
	var in push.RuleInput
	if err := a.decode(r, &in); err != nil {
		return err
	}
	q := r.URL.Query()
	return a.editPushRules(w, r, s, func(rs *push.Ruleset) error {
		return rs.Put(kind, id, in, q.Get("before"), q.Get("after"))
	})
}

// deletePushRule is DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
// (client-server API, Push Rules: API).
func (a *API) deletePushRule(w http.ResponseWriter, r *http.Request, s *Session) error {
	kind, id, err := pushRuleTarget(r)
	if err != nil {
		return err
	}
	return a.editPushRules(w, r, s, func(rs *push.Ruleset) error { return rs.Delete(kind, id) })
}

// getPushRuleEnabled is GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled
// (client-server API, Push Rules: API).
func (a *API) getPushRuleEnabled(w http.ResponseWriter, r *http.Request, s *Session) error {
	rule, err := a.findPushRule(r, s)
	if err != nil {
		return err
	}
	return ok(w, map[string]bool{"enabled": rule.Enabled})
}

// putPushRuleEnabled is PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled
// (client-server API, Push Rules: API).
func (a *API) putPushRuleEnabled(w http.ResponseWriter, r *http.Request, s *Session) error {
	kind, id, err := pushRuleTarget(r)
	if err != nil {
		return err
	}
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return mxerr.BadJSON("enabled is required")
	}
	return a.editPushRules(w, r, s, func(rs *push.Ruleset) error { return rs.SetEnabled(kind, id, *req.Enabled) })
}

// getPushRuleActions is GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions
// (client-server API, Push Rules: API).
func (a *API) getPushRuleActions(w http.ResponseWriter, r *http.Request, s *Session) error {
	rule, err := a.findPushRule(r, s)
	if err != nil {
		return err
	}
	return ok(w, map[string]json.RawMessage{"actions": rule.Actions})
}

// putPushRuleActions is PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions
// (client-server API, Push Rules: API).
func (a *API) putPushRuleActions(w http.ResponseWriter, r *http.Request, s *Session) error {
	kind, id, err := pushRuleTarget(r)
	if err != nil {
		return err
	}
	var req struct {
		Actions json.RawMessage `json:"actions"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if len(req.Actions) == 0 {
		return mxerr.BadJSON("actions is required")
	}
	return a.editPushRules(w, r, s, func(rs *push.Ruleset) error { return rs.SetActions(kind, id, req.Actions) })
}

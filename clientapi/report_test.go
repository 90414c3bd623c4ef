package clientapi_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestReports: reports of events, rooms and users are stored for the
// administrators; events the reporter cannot see are not found.
func TestReports(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		eve := s.mustRegister(t, "eve", "eve password")
		r := s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"preset": "private_chat"})
		wantOK(t, r)
		room := url.PathEscape(r.str("room_id"))
		sent := s.do(t, "PUT", v3+"/rooms/"+room+"/send/m.room.message/1", alice.Token, map[string]string{"body": "spam?"})
		wantOK(t, sent)
		event := url.PathEscape(sent.str("event_id"))

		wantOK(t, s.do(t, "POST", v3+"/rooms/"+room+"/report/"+event, alice.Token, map[string]string{"reason": "test"}))
		wantOK(t, s.do(t, "POST", v3+"/rooms/"+room+"/report", alice.Token, map[string]string{}))
		wantOK(t, s.do(t, "POST", v3+"/users/"+url.PathEscape(eve.ID)+"/report", alice.Token, map[string]string{"reason": "rude"}))
		wantErr(t, s.do(t, "POST", v3+"/rooms/"+room+"/report/"+event, eve.Token, map[string]string{}), http.StatusNotFound, "M_NOT_FOUND")
		wantErr(t, s.do(t, "POST", v3+"/rooms/"+room+"/report/"+url.PathEscape("$nope"), alice.Token, map[string]string{}), http.StatusNotFound, "M_NOT_FOUND")

		reports, err := s.DB.Reports(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(reports) != 3 || reports[0].UserID != eve.ID || reports[2].EventID != sent.str("event_id") || reports[2].Reason != "test" {
			t.Errorf("stored reports: got %+v, want the user, room and event reports", reports)
		}
	})
}

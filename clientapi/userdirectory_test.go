package clientapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/config"
)

// directoryFind searches the user directory and returns the user ids found
// and limited.
func (s *testServer) directoryFind(t *testing.T, u user, body map[string]any) ([]string, bool, response) {
	t.Helper()
	r := s.do(t, "POST", v3+"/user_directory/search", u.Token, body)
	wantOK(t, r)
	var out struct {
		Results []struct {
			UserID      string `json:"user_id"`
			DisplayName string `json:"display_name"`
		} `json:"results"`
		Limited *bool `json:"limited"`
	}
	if err := json.Unmarshal(r.Raw, &out); err != nil || out.Limited == nil || out.Results == nil {
		t.Fatalf("%s: got %s, want results and limited", r.Req, r.Raw)
	}
	ids := make([]string, len(out.Results))
	for i, res := range out.Results {
		ids[i] = res.UserID
	}
	return ids, *out.Limited, r
}

func wantDirectory(t *testing.T, s *testServer, u user, term string, want ...string) {
	t.Helper()
	got, limited, _ := s.directoryFind(t, u, map[string]any{"search_term": term, "limit": 50})
	if !slices.Equal(got, want) || limited {
		t.Errorf("%s finds %q: got %v (limited %v), want %v", u.Localpart, term, got, limited, want)
	}
}

// directoryPeople registers alice and the people around her: bob shares a
// room with her, carol is in a public room, dave and bobby are strangers,
// erin shared a room and was deactivated.
func directoryPeople(t *testing.T, s *testServer) (alice, bob, carol, dave, bobby user) {
	t.Helper()
	named := func(localpart, name string) user {
		u := s.mustRegister(t, localpart, localpart+" password")
		if name != "" {
			wantOK(t, s.do(t, "PUT", v3+"/profile/"+u.ID+"/displayname", u.Token, map[string]string{"displayname": name}))
		}
		return u
	}
	alice = named("alice", "Alice")
	bob = named("bob", "Bob Builder")
	carol = named("carol", "Carol Öffentlich")
	dave = named("dave", "Dave Stranger")
	bobby = named("bobby", "")
	erin := named("erin", "Erin Bob")
	private := s.dirRoom(t, alice, map[string]any{"invite": []string{bob.ID, erin.ID}})
	s.dirJoin(t, bob, private)
	s.dirJoin(t, erin, private)
	s.dirRoom(t, carol, map[string]any{"preset": "public_chat"})
	s.dirRoom(t, dave, map[string]any{"preset": "private_chat"})
	r := s.do(t, "POST", v3+"/account/deactivate", erin.Token, map[string]any{"auth": passwordAuth(erin, erin.Password, "")})
	wantOK(t, r)
	return alice, bob, carol, dave, bobby
}

func TestAPI_UserDirectory(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice, bob, carol, _, _ := directoryPeople(t, s)
		t.Run("SharedRoom", func(t *testing.T) {
			wantDirectory(t, s, alice, "bob", bob.ID)
			wantDirectory(t, s, alice, "BUILD", bob.ID)
			wantDirectory(t, s, alice, "@bob:test.local", bob.ID)
			wantDirectory(t, s, alice, "uilde", bob.ID)
			wantDirectory(t, s, bob, "ALICE", alice.ID)
		})
		t.Run("PublicRoom", func(t *testing.T) {
			wantDirectory(t, s, alice, "carol", carol.ID)
			wantDirectory(t, s, alice, "öffent", carol.ID)
		})
		t.Run("Strangers", func(t *testing.T) {
			wantDirectory(t, s, alice, "dave")
			wantDirectory(t, s, alice, "stranger")
			wantDirectory(t, s, carol, "bob") // carol shares no room with bob
		})
		t.Run("Deactivated", func(t *testing.T) {
			wantDirectory(t, s, alice, "erin")
		})
		t.Run("NotSelf", func(t *testing.T) {
			wantDirectory(t, s, alice, "alice")
		})
		t.Run("Order", func(t *testing.T) {
			// Sharing a room ranks bob before carol, both prefix matches
			// of their user ids.
			wantDirectory(t, s, alice, "@", bob.ID, carol.ID)
		})
		t.Run("Limit", func(t *testing.T) {
			got, limited, _ := s.directoryFind(t, alice, map[string]any{"search_term": "", "limit": 1})
			if !slices.Equal(got, []string{bob.ID}) || !limited {
				t.Errorf("limit 1: got %v, limited %v, want [%s] and limited", got, limited, bob.ID)
			}
			got, limited, _ = s.directoryFind(t, alice, map[string]any{"search_term": ""})
			if len(got) != 2 || limited {
				t.Errorf("default limit: got %v, limited %v, want 2 users, not limited", got, limited)
			}
		})
		t.Run("Profile", func(t *testing.T) {
			_, _, r := s.directoryFind(t, alice, map[string]any{"search_term": "bob"})
			want := `{"limited":false,"results":[{"user_id":"@bob:test.local","display_name":"Bob Builder"}]}`
			if string(r.Raw) != want {
				t.Errorf("got %s, want %s", r.Raw, want)
			}
		})
		t.Run("BadInput", func(t *testing.T) {
			path := v3 + "/user_directory/search"
			wantErr(t, s.do(t, "POST", path, alice.Token, map[string]any{"limit": 3}), http.StatusBadRequest, "M_MISSING_PARAM")
			wantErr(t, s.do(t, "POST", path, alice.Token, map[string]any{"search_term": 3}), http.StatusBadRequest, "M_BAD_JSON")
			wantErr(t, s.do(t, "POST", path, alice.Token, map[string]any{"search_term": "x", "limit": -1}),
				http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, s.do(t, "POST", path, "", map[string]any{"search_term": "x"}), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
	})
}

func TestAPI_UserDirectoryAllUsers(t *testing.T) {
	all := func(cfg *config.Config) { cfg.UserDirectory.SearchAllUsers = true }
	eachServer(t, all, func(t *testing.T, s *testServer) {
		alice, bob, carol, dave, bobby := directoryPeople(t, s)
		wantDirectory(t, s, alice, "dave", dave.ID)
		wantDirectory(t, s, alice, "stranger", dave.ID)
		wantDirectory(t, s, alice, "erin") // still not the deactivated
		// Exact before prefix; then sharing a room, a display name, the
		// name.
		wantDirectory(t, s, alice, "bob", bob.ID, bobby.ID)
		wantDirectory(t, s, alice, "@", bob.ID, carol.ID, dave.ID, bobby.ID)
	})
}

package clientapi

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Limits of POST /user_directory/search.
const (
	defaultDirectoryLimit = 10
	maxDirectoryLimit     = 1000
)

// directoryUser is one result of the user directory.
type directoryUser struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// searchUserDirectory is POST /_matrix/client/v3/user_directory/search
// (spec: User directory): the users who share a room with the searcher or
// are in a public room (every local user with user_directory.
// search_all_users), matched case-insensitively on user id, localpart and
// display name. Best matches come first: exact, then prefix, then word
// prefix, then substring; within each, colleagues who share a room, then
// users with a display name, then by name.
func (a *API) searchUserDirectory(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		SearchTerm *string `json:"search_term"`
		Limit      *int    `json:"limit"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.SearchTerm == nil {
		return mxerr.MissingParam("search_term is required")
	}
	limit := defaultDirectoryLimit
	if req.Limit != nil {
		if *req.Limit < 0 {
			return mxerr.InvalidParam("limit must not be negative")
		}
		limit = min(*req.Limit, maxDirectoryLimit)
	}
	candidates, err := a.db.DirectoryCandidates(r.Context(), s.UserID, a.cfg.ServerName, a.cfg.UserDirectory.SearchAllUsers)
	if err != nil {
		return err
	}
	matches := matchDirectory(*req.SearchTerm, candidates)
	results := make([]directoryUser, 0, min(limit, len(matches)))
	for _, m := range matches[:min(limit, len(matches))] {
		results = append(results, directoryUser{UserID: m.UserID, DisplayName: m.DisplayName, AvatarURL: m.AvatarURL})
	}
	return ok(w, map[string]any{"results": results, "limited": len(matches) > limit})
}

// How well a user matches a directory search; lower is better.
const (
	matchExact = iota
	matchPrefix
	matchWordPrefix
	matchSubstring
	noMatch
)

// directoryMatch is a candidate that matched, with how well.
type directoryMatch struct {
	storage.DirectoryUser
	rank int
	name string // lower-case display name, or localpart without one
}

// matchDirectory returns the candidates that match term, best first.
func matchDirectory(term string, candidates []storage.DirectoryUser) []directoryMatch {
	term = strings.ToLower(strings.TrimSpace(term))
	words := strings.FieldsFunc(term, notWordRune)
	var out []directoryMatch
	for _, u := range candidates {
		id, name := strings.ToLower(u.UserID), strings.ToLower(u.DisplayName)
		localpart, _, _ := strings.Cut(strings.TrimPrefix(id, "@"), ":")
		m := directoryMatch{DirectoryUser: u, rank: matchRank(term, words, id, localpart, name), name: name}
		if m.rank == noMatch {
			continue
		}
		if m.name == "" {
			m.name = localpart
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b directoryMatch) int {
		return cmp.Or(
			cmp.Compare(a.rank, b.rank),
			boolFirst(a.SharesRoom, b.SharesRoom),
			boolFirst(a.DisplayName != "", b.DisplayName != ""),
			strings.Compare(a.name, b.name),
			strings.Compare(a.UserID, b.UserID),
		)
	})
	return out
}

// matchRank says how well the lower-case term (and its words) matches a
// user's lower-case id, localpart and display name.
func matchRank(term string, words []string, id, localpart, name string) int {
	bare := strings.TrimPrefix(term, "@")
	switch {
	case term == id || bare == localpart || (name != "" && term == name):
		return matchExact
	case strings.HasPrefix(id, term) || strings.HasPrefix(localpart, bare) || (name != "" && strings.HasPrefix(name, term)):
		return matchPrefix
	}
	tokens := slices.Concat(strings.FieldsFunc(name, notWordRune), strings.FieldsFunc(localpart, notWordRune))
	if len(words) > 0 && allMatch(words, func(w string) bool {
		return slices.ContainsFunc(tokens, func(t string) bool { return strings.HasPrefix(t, w) })
	}) {
		return matchWordPrefix
	}
	if len(words) == 0 {
		words = []string{term} // punctuation only
	}
	if allMatch(words, func(w string) bool { return strings.Contains(id, w) || strings.Contains(name, w) }) {
		return matchSubstring
	}
	return noMatch
}

func allMatch(words []string, match func(string) bool) bool {
	for _, w := range words {
		if !match(w) {
			return false
		}
	}
	return true
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// boolFirst orders true before false.
func boolFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

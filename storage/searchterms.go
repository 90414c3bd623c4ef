package storage

import (
	"slices"
	"strings"
	"unicode"
)

// Full-text search works on normalised words: lower-case runs of letters,
// digits and combining marks, joined by single spaces. The index stores
// text in that form and queries are built from words in that form, so that
// SQLite's and PostgreSQL's tokenizers see the same words and both engines
// match alike.

// maxSearchWord bounds the bytes of one indexed or searched word; longer
// runs (base64, hashes) are dropped on both sides.
const maxSearchWord = 200

// maxSearchAtoms bounds the words and phrases of one query.
const maxSearchAtoms = 32

// searchWords splits text into normalised words.
func searchWords(text string) []string {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	})
	out := fields[:0]
	for _, f := range fields {
		if len(f) <= maxSearchWord {
			out = append(out, strings.ToLower(f))
		}
	}
	return out
}

// normaliseSearchText is text as the index stores it.
func normaliseSearchText(text string) string { return strings.Join(searchWords(text), " ") }

// SearchTerms is a parsed search query: every clause must match (or, for
// a negated one, must not). Build it with ParseSearchTerms.
type SearchTerms struct {
	clauses []termClause
}

// termClause matches if any of its atoms does.
type termClause struct {
	negated bool
	atoms   []termAtom
}

// termAtom is one word (a prefix if prefix is set) or a phrase of words
// that must follow each other.
type termAtom struct {
	words  []string
	prefix bool
}

// ParseSearchTerms parses what a user typed, in the manner of web search
// boxes: words must all match, each as a word prefix ("deploy" finds
// "deployment"); "quoted words" match as a phrase; a word or phrase
// preceded by "-" must not match; "OR" between two of them lets either
// match. Punctuation separates words: "e-mail" is the phrase "e mail".
func ParseSearchTerms(s string) SearchTerms {
	var (
		q      SearchTerms
		or     bool
		atoms  int
		tokens = lexSearch(s)
	)
	for _, tok := range tokens {
		if tok.or {
			or = len(q.clauses) > 0 && !q.clauses[len(q.clauses)-1].negated
			continue
		}
		words := searchWords(tok.text)
		if len(words) == 0 || atoms == maxSearchAtoms {
			or = false
			continue
		}
		atoms++
		atom := termAtom{words: words, prefix: len(words) == 1 && !tok.quoted}
		if or && !tok.negated {
			last := &q.clauses[len(q.clauses)-1]
			last.atoms = append(last.atoms, atom)
		} else {
			q.clauses = append(q.clauses, termClause{negated: tok.negated, atoms: []termAtom{atom}})
		}
		or = false
	}
	return q
}

// searchToken is a word, a quoted phrase or the OR operator.
type searchToken struct {
	text            string
	quoted, negated bool
	or              bool
}

// lexSearch splits a query at spaces, keeping "quoted phrases" whole.
func lexSearch(s string) []searchToken {
	var out []searchToken
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		var tok searchToken
		if len(s) > 1 && s[0] == '-' && s[1] != ' ' {
			tok.negated, s = true, s[1:]
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				end = len(s) - 1
			}
			tok.text, tok.quoted, s = s[1:1+end], true, s[min(end+2, len(s)):]
		} else {
			end := strings.IndexFunc(s, unicode.IsSpace)
			if end < 0 {
				end = len(s)
			}
			tok.text, s = s[:end], s[end:]
			tok.or = tok.text == "OR" && !tok.negated
		}
		out = append(out, tok)
	}
	return out
}

// Empty reports whether the terms can match nothing: no word, or only
// words that must not match.
func (q SearchTerms) Empty() bool {
	return !slices.ContainsFunc(q.clauses, func(c termClause) bool { return !c.negated })
}

// Words returns the words that may match, without duplicates.
func (q SearchTerms) Words() []string {
	var out []string
	for _, c := range q.clauses {
		if c.negated {
			continue
		}
		for _, a := range c.atoms {
			for _, w := range a.words {
				if !slices.Contains(out, w) {
					out = append(out, w)
				}
			}
		}
	}
	return out
}

// Highlights returns the words of text that the terms match (a word that
// a search word is a prefix of counts), normalised and without duplicates.
func (q SearchTerms) Highlights(text string) []string {
	var out []string
	for _, w := range searchWords(text) {
		if !slices.Contains(out, w) && q.matchesWord(w) {
			out = append(out, w)
		}
	}
	return out
}

func (q SearchTerms) matchesWord(w string) bool {
	for _, c := range q.clauses {
		if c.negated {
			continue
		}
		for _, a := range c.atoms {
			for _, aw := range a.words {
				if aw == w || (a.prefix && strings.HasPrefix(w, aw)) {
					return true
				}
			}
		}
	}
	return false
}

// ftsQuery renders the terms in SQLite's FTS4 query syntax (the enhanced
// syntax: AND, OR, NOT and parentheses).
func (q SearchTerms) ftsQuery() string {
	var pos, neg []string
	for _, c := range q.clauses {
		s := c.render(termAtom.fts, " OR ")
		if c.negated {
			neg = append(neg, "NOT "+s)
		} else {
			pos = append(pos, s)
		}
	}
	return strings.Join(append(pos, neg...), " ")
}

// render renders the clause's alternatives with atom, joined by or and in
// parentheses if there are several; negation is left to the caller.
func (c termClause) render(atom func(termAtom) string, or string) string {
	alts := make([]string, len(c.atoms))
	for i, a := range c.atoms {
		alts[i] = atom(a)
	}
	s := strings.Join(alts, or)
	if len(alts) > 1 {
		s = "(" + s + ")"
	}
	return s
}

func (a termAtom) fts() string {
	if len(a.words) > 1 {
		return `"` + strings.Join(a.words, " ") + `"`
	}
	if a.prefix {
		return a.words[0] + "*"
	}
	return a.words[0]
}

// tsQuery renders the terms for PostgreSQL's to_tsquery. Words hold only
// letters, digits and marks, and are quoted besides.
func (q SearchTerms) tsQuery() string {
	parts := make([]string, 0, len(q.clauses))
	for _, c := range q.clauses {
		s := c.render(termAtom.ts, " | ")
		if c.negated {
			s = "!" + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " & ")
}

func (a termAtom) ts() string {
	quoted := make([]string, len(a.words))
	for i, w := range a.words {
		quoted[i] = "'" + w + "'"
	}
	if len(quoted) > 1 {
		return "(" + strings.Join(quoted, " <-> ") + ")"
	}
	if a.prefix {
		return quoted[0] + ":*"
	}
	return quoted[0]
}

package storage

// Full-text search is the one query whose SQL differs between the engines
// (dialect.textSearch): SQLite matches through an FTS4 table over
// search_docs, PostgreSQL through a GIN index on to_tsvector. Both see the
// same normalised words (searchterms.go).

// textMatch is how a search query matches and ranks search_docs rows.
type textMatch struct {
	from  string // the FROM items: search_docs as d, and what the match needs
	match string // the condition that d matches the terms
	rank  string // how well d matches: higher is better
	arg   any    // the value of the terms' placeholder
}

// textSearch ranks a match by the share of the document's words that the
// terms hit (offsets() lists four numbers per hit).
func (sqliteDialect) textSearch(terms SearchTerms, param string) textMatch {
	const (
		hits  = "(length(offsets(search_fts)) - length(replace(offsets(search_fts), ' ', '')) + 1) / 4.0"
		words = "(length(d.text) - length(replace(d.text, ' ', '')) + 1)"
	)
	return textMatch{
		// CROSS JOIN keeps the full-text match the outer loop: otherwise
		// SQLite may run it once per candidate row.
		from:  "search_fts CROSS JOIN search_docs d ON d.event_nid = search_fts.docid",
		match: "search_fts MATCH " + param,
		rank:  hits + " / " + words,
		arg:   terms.ftsQuery(),
	}
}

// textSearch ranks a match with ts_rank divided by the document's length
// (normalisation 2), close to what SQLite's ranking measures.
func (postgresDialect) textSearch(terms SearchTerms, param string) textMatch {
	const vector = "to_tsvector('simple', d.text)"
	query := "to_tsquery('simple', " + param + ")"
	return textMatch{
		from:  "search_docs d",
		match: vector + " @@ " + query,
		rank:  "ts_rank(" + vector + ", " + query + ", 2)",
		arg:   terms.tsQuery(),
	}
}

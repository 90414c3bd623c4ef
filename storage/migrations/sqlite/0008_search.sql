-- Full-text search of room events (POST /search): one row per indexed
-- event (a message body, a room name, a topic) with its text as normalised
-- words (see storage/searchterms.go). The search indexer follows the events
-- stream; the 'search' row is how far it has indexed. Rows are inserted and
-- deleted (redactions), never updated.
INSERT INTO streams (name, pos) VALUES ('search', 0);

CREATE TABLE search_docs (
    event_nid  INTEGER PRIMARY KEY,
    room_nid   BIGINT NOT NULL,
    sender     TEXT NOT NULL,
    type       TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    origin_ts  BIGINT NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX search_docs_room ON search_docs (room_nid, stream_pos);

-- The full-text index over search_docs.text. FTS4, not FTS5: go-sqlite3
-- compiles FTS3/FTS4 in by default and FTS5 only with the sqlite_fts5 build
-- tag. No diacritics folding, as PostgreSQL's 'simple' configuration.
CREATE VIRTUAL TABLE search_fts USING fts4(content="search_docs", text, tokenize=unicode61 "remove_diacritics=0");
CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_fts (docid, text) VALUES (new.event_nid, new.text);
END;
CREATE TRIGGER search_docs_delete BEFORE DELETE ON search_docs BEGIN
    DELETE FROM search_fts WHERE docid = old.event_nid;
END;

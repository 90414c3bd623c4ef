-- Full-text search of room events (POST /search): one row per indexed
-- event (a message body, a room name, a topic) with its text as normalised
-- words (see storage/searchterms.go). The search indexer follows the events
-- stream; the 'search' row is how far it has indexed. Rows are inserted and
-- deleted (redactions), never updated.
INSERT INTO streams (name, pos) VALUES ('search', 0);

CREATE TABLE search_docs (
    event_nid  BIGINT PRIMARY KEY,
    room_nid   BIGINT NOT NULL,
    sender     TEXT NOT NULL,
    type       TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    origin_ts  BIGINT NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX search_docs_room ON search_docs (room_nid, stream_pos);

-- The full-text index over search_docs.text: the 'simple' configuration
-- (no stemming, no stop words: the organisation's languages vary), as
-- SQLite's unicode61 tokenizer does.
CREATE INDEX search_docs_text ON search_docs USING GIN (to_tsvector('simple', text));

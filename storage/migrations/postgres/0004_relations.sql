-- Relations between events (m.relates_to): threads, edits, references,
-- annotations. One row per accepted event that relates to another.
CREATE TABLE event_relations (
    event_nid  BIGINT NOT NULL PRIMARY KEY,
    room_nid   BIGINT NOT NULL,
    parent_id  TEXT NOT NULL, -- the event related to
    rel_type   TEXT NOT NULL,
    type       TEXT NOT NULL, -- the relating event's type
    sender     TEXT NOT NULL,
    stream_pos BIGINT NOT NULL
);
CREATE INDEX event_relations_parent ON event_relations (parent_id, rel_type, stream_pos);
CREATE INDEX event_relations_room ON event_relations (room_nid, rel_type, stream_pos);

-- For /timestamp_to_event.
CREATE INDEX events_room_ts ON events (room_nid, origin_ts);

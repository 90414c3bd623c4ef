-- Rooms, events and room state.
--
-- Ids inside the server are numbers (NIDs). State is stored as snapshots
-- that share structure: a snapshot is a fixed number of buckets, each
-- pointing to an immutable, hash-deduplicated block of sorted
-- (type, state key, event) entries; a state change rewrites one bucket.

INSERT INTO streams (name, pos) VALUES ('events', 0);

CREATE TABLE rooms (
    room_nid     INTEGER PRIMARY KEY,
    room_id      TEXT NOT NULL UNIQUE,
    room_version TEXT NOT NULL,
    snapshot_nid BIGINT NOT NULL DEFAULT 0, -- current state
    created_ts   BIGINT NOT NULL
);

CREATE TABLE event_types (
    type_nid INTEGER PRIMARY KEY,
    type     TEXT NOT NULL UNIQUE
);

CREATE TABLE state_keys (
    state_key_nid INTEGER PRIMARY KEY,
    state_key     TEXT NOT NULL UNIQUE
);

-- status: 0 accepted, 1 soft-failed, 2 rejected, 3 outlier.
-- stream_pos orders the timeline; NULL for events not in it.
-- before_snapshot / after_snapshot: the room state before and after the event.
CREATE TABLE events (
    event_nid       INTEGER PRIMARY KEY,
    room_nid        BIGINT NOT NULL REFERENCES rooms (room_nid),
    event_id        TEXT NOT NULL UNIQUE,
    type_nid        BIGINT NOT NULL,
    state_key_nid   BIGINT NOT NULL DEFAULT 0, -- 0: not a state event
    sender          TEXT NOT NULL,
    depth           BIGINT NOT NULL,
    origin_ts       BIGINT NOT NULL,
    status          SMALLINT NOT NULL,
    stream_pos      BIGINT,
    before_snapshot BIGINT NOT NULL DEFAULT 0,
    after_snapshot  BIGINT NOT NULL DEFAULT 0,
    redacted_by     TEXT NOT NULL DEFAULT '',
    json            TEXT NOT NULL
);
CREATE UNIQUE INDEX events_stream ON events (stream_pos);
CREATE INDEX events_room_stream ON events (room_nid, stream_pos);

CREATE TABLE state_blocks (
    block_nid INTEGER PRIMARY KEY,
    hash      BLOB NOT NULL UNIQUE,
    entries   BLOB NOT NULL
);

CREATE TABLE state_snapshots (
    snapshot_nid INTEGER PRIMARY KEY,
    hash         BLOB NOT NULL UNIQUE,
    blocks       BLOB NOT NULL
);

CREATE TABLE forward_extremities (
    room_nid  BIGINT NOT NULL,
    event_nid BIGINT NOT NULL,
    PRIMARY KEY (room_nid, event_nid)
);

-- The current state of each room, as an index of the current snapshot.
CREATE TABLE current_state (
    room_nid      BIGINT NOT NULL,
    type_nid      BIGINT NOT NULL,
    state_key_nid BIGINT NOT NULL,
    event_nid     BIGINT NOT NULL,
    PRIMARY KEY (room_nid, type_nid, state_key_nid)
);

-- The current membership of every user in every room it has one in.
CREATE TABLE memberships (
    room_nid   BIGINT NOT NULL,
    user_id    TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_nid  BIGINT NOT NULL,
    stream_pos BIGINT NOT NULL,
    PRIMARY KEY (room_nid, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id, membership);
CREATE INDEX memberships_room ON memberships (room_nid, membership);

-- Client transaction ids: the same txn id from the same device gives the
-- same event.
CREATE TABLE txn_ids (
    localpart  TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    txn_id     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (localpart, device_id, txn_id)
);

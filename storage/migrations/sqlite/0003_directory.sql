-- Room aliases, the published room directory, and the rooms users forgot.

-- Local room aliases. room_id is '' while createRoom holds the alias
-- reserved for the room it is still creating.
CREATE TABLE room_aliases (
    alias      TEXT PRIMARY KEY,
    room_id    TEXT NOT NULL,
    creator    TEXT NOT NULL,
    created_ts BIGINT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- The rooms listed in the server's published room directory.
CREATE TABLE published_rooms (
    room_id      TEXT PRIMARY KEY,
    published_ts BIGINT NOT NULL
);

-- Rooms a user forgot after leaving them. event_nid is the user's
-- membership event (a leave or a ban) when it forgot: a later membership
-- event (join, invite, knock) ends the forgetting, whoever sent it.
CREATE TABLE forgotten_rooms (
    user_id   TEXT NOT NULL,
    room_id   TEXT NOT NULL,
    event_nid BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);

-- Content reports: what users reported to the server's administrators (a
-- room, an event in it, or a user), for the admin API to list.
CREATE TABLE reports (
    report_id  BIGINT NOT NULL PRIMARY KEY,
    reporter   TEXT NOT NULL,
    room_id    TEXT NOT NULL DEFAULT '',
    event_id   TEXT NOT NULL DEFAULT '',
    user_id    TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    created_ts BIGINT NOT NULL
);
INSERT INTO streams (name, pos) VALUES ('report', 0);

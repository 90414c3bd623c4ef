-- Server-side key backups and presence.
--
-- backup_version is the counter that numbers backup versions (one series
-- for all users: versions are opaque to clients); presence is the stream
-- of presence changes that /sync sends.
INSERT INTO streams (name, pos) VALUES ('backup_version', 0), ('presence', 0);

-- A user's key backup versions. A deleted version keeps its row (deleted
-- TRUE, its keys gone) so that its number is never given out again and
-- deleting it twice succeeds. etag counts the changes of its keys.
CREATE TABLE backup_versions (
    user_id   TEXT NOT NULL,
    version   BIGINT NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data TEXT NOT NULL,
    etag      BIGINT NOT NULL DEFAULT 0,
    deleted   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, version)
);

-- The encrypted session keys of a backup version, as the client sent them.
CREATE TABLE backup_keys (
    user_id             TEXT NOT NULL,
    version             BIGINT NOT NULL,
    room_id             TEXT NOT NULL,
    session_id          TEXT NOT NULL,
    first_message_index BIGINT NOT NULL,
    forwarded_count     BIGINT NOT NULL,
    is_verified         BOOLEAN NOT NULL,
    session_data        TEXT NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
);

-- The presence of local users. status_msg NULL: none set; stream_pos is
-- the position of the last change of presence or status_msg (refreshing
-- last_active_ts alone takes no position).
CREATE TABLE presence (
    user_id        TEXT PRIMARY KEY,
    presence       TEXT NOT NULL,
    status_msg     TEXT,
    last_active_ts BIGINT NOT NULL,
    stream_pos     BIGINT NOT NULL
);
CREATE INDEX presence_stream ON presence (stream_pos);

-- Every message in a large room writes a notification row per member, so
-- each b-tree on notifications costs on the hottest write path. The table
-- becomes clustered on its primary key (no separate rowid tree), and
-- notifications_room goes: marking read uses notifications_unread, the
-- notification list the primary key, pushers notifications_pos.
CREATE TABLE notifications_clustered (
    user_id    TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    room_id    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    thread_id  TEXT NOT NULL,
    highlight  BOOLEAN NOT NULL,
    actions    TEXT NOT NULL,
    ts         BIGINT NOT NULL,
    is_read    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, stream_pos)
) WITHOUT ROWID;
INSERT INTO notifications_clustered
    SELECT user_id, stream_pos, room_id, event_id, thread_id, highlight, actions, ts, is_read FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_clustered RENAME TO notifications;
CREATE INDEX notifications_unread ON notifications (user_id, room_id, stream_pos) WHERE NOT is_read;
CREATE INDEX notifications_pos ON notifications (stream_pos);

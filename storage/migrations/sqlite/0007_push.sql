-- Push rules' results: the events each user was notified of, the unread
-- counts they add up to per room and thread, and how far the push
-- evaluator has read the events stream (the 'push' row of streams).
-- thread_id is the thread root's event id, or 'main' for the main timeline.
--
-- notification_counts always equals the unread rows of notifications,
-- grouped: the evaluator adds a row and its count in one transaction, a
-- read receipt marks rows read and subtracts exactly the rows it marked.
CREATE TABLE notifications (
    user_id    TEXT NOT NULL,
    stream_pos BIGINT NOT NULL, -- the event's position in the events stream
    room_id    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    thread_id  TEXT NOT NULL,
    highlight  BOOLEAN NOT NULL,
    actions    TEXT NOT NULL, -- the matching rule's actions, a JSON array
    ts         BIGINT NOT NULL,
    is_read    BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, stream_pos)
);
CREATE INDEX notifications_room ON notifications (user_id, room_id, stream_pos);

CREATE TABLE notification_counts (
    user_id            TEXT NOT NULL,
    room_id            TEXT NOT NULL,
    thread_id          TEXT NOT NULL,
    notification_count BIGINT NOT NULL,
    highlight_count    BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_id)
);

-- How far the push evaluator has processed the events stream: every event
-- up to it is done. It starts at the current position, so that an upgraded
-- server does not notify users of old history.
INSERT INTO streams (name, pos) SELECT 'push', pos FROM streams WHERE name = 'events';

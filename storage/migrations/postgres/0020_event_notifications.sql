-- Notifications become one row per event instead of one per notified
-- member: a message in a room of 1,000 members wrote 1,000 rows into a
-- b-tree ordered by user, touching a page per member on the hottest write
-- path. An event's row is appended in stream order and lists its notified
-- users in the text column users: per user "\n" user_id "\t", then 'h'
-- (highlight) or 'n', then the user's actions as compact JSON, left empty
-- when they equal the row's actions (those of most users). User ids hold
-- neither newline nor tab; JSON whitespace may be dropped, so a newline
-- never appears inside an entry.
CREATE TABLE event_notifications (
    stream_pos BIGINT PRIMARY KEY, -- the event's position in the events stream
    room_id    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    thread_id  TEXT NOT NULL,
    ts         BIGINT NOT NULL,
    actions    TEXT NOT NULL,
    users      TEXT NOT NULL
);
-- Marking a thread read up to an older event counts what stays unread.
CREATE INDEX event_notifications_room ON event_notifications (room_id, thread_id, stream_pos);

INSERT INTO event_notifications (stream_pos, room_id, event_id, thread_id, ts, actions, users)
    SELECT n.stream_pos, MIN(n.room_id), MIN(n.event_id), MIN(n.thread_id), MIN(n.ts), replace(c.actions, chr(10), ''),
        string_agg(chr(10) || n.user_id || chr(9) || CASE WHEN n.highlight THEN 'h' ELSE 'n' END ||
            CASE WHEN n.actions = c.actions THEN '' ELSE replace(n.actions, chr(10), '') END, '')
    FROM notifications n
    JOIN (SELECT stream_pos, MIN(actions) AS actions FROM notifications GROUP BY stream_pos) c
        ON c.stream_pos = n.stream_pos
    GROUP BY n.stream_pos, c.actions;
DROP TABLE notifications;

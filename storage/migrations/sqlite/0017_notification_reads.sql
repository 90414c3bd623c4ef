-- Marking notifications read no longer updates a row per notification.
-- Each (user, room, thread) row of notification_counts keeps how far it is
-- read (read_pos: every notification up to it is read) and its newest
-- notification (last_pos). Reading up to last_pos or beyond sets the
-- counts to zero without touching notifications; an older receipt counts
-- the notifications after it. Rows stay at zero counts: read_pos is what
-- /notifications' "read" is computed from.
ALTER TABLE notification_counts ADD COLUMN read_pos BIGINT NOT NULL DEFAULT 0;
ALTER TABLE notification_counts ADD COLUMN last_pos BIGINT NOT NULL DEFAULT 0;
INSERT INTO notification_counts (user_id, room_id, thread_id, notification_count, highlight_count, read_pos, last_pos)
    SELECT user_id, room_id, thread_id, 0, 0, COALESCE(MAX(CASE WHEN is_read THEN stream_pos END), 0), MAX(stream_pos)
    FROM notifications WHERE TRUE GROUP BY user_id, room_id, thread_id
    ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET read_pos = excluded.read_pos, last_pos = excluded.last_pos;
DROP INDEX notifications_unread;
ALTER TABLE notifications DROP COLUMN is_read;

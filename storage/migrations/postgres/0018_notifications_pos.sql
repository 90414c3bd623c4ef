-- One index fewer on the hottest write path (a notification row per
-- member per message): the dispatcher's question "which pushers' users
-- were notified after a position" now goes per pusher through the
-- primary key (user_id, stream_pos).
DROP INDEX notifications_pos;

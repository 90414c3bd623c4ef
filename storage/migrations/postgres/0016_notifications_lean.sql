-- Every message in a large room writes a notification row per member, so
-- each index on notifications costs on the hottest write path.
-- notifications_room goes: marking read uses notifications_unread, the
-- notification list the primary key, pushers notifications_pos.
DROP INDEX notifications_room;

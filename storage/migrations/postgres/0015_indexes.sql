-- Indexes found missing under load: /sync looks transaction ids up by
-- event, and marking notifications read touches only unread rows.
CREATE INDEX txn_ids_event ON txn_ids (localpart, device_id, event_id);
CREATE INDEX notifications_unread ON notifications (user_id, room_id, stream_pos) WHERE NOT is_read;

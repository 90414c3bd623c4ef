-- The events stream's positions come from a sequence: taking them from the
-- streams row locked that row until each send committed, so that sends to
-- different rooms committed one at a time. The streams row of 'events'
-- stays behind at the position it had (storage/eventpos.go orders what
-- the sequence hands out).
CREATE SEQUENCE events_stream_pos;
SELECT setval('events_stream_pos', GREATEST(pos, 1), pos > 0) FROM streams WHERE name = 'events';

-- One-time keys are handed out in the order they were uploaded (MSC4225,
-- Complement's TestKeyClaimOrdering): clients may discard the private
-- halves of their oldest keys. upload_seq numbers a device's uploads; keys
-- of one upload share it. Keys stored before this migration count as one
-- earliest upload.
ALTER TABLE one_time_keys ADD COLUMN upload_seq BIGINT NOT NULL DEFAULT 0;
DROP INDEX one_time_keys_algorithm;
CREATE INDEX one_time_keys_claim ON one_time_keys (user_id, device_id, algorithm, upload_seq);

-- Dehydrated devices (MSC3814): at most one per user, a real device of the
-- user (in devices, with its keys in device_keys and its messages in
-- to_device_messages) whose private keys the client stored here encrypted
-- (device_data, an opaque JSON object) for a later login to rehydrate.
CREATE TABLE dehydrated_devices (
    user_id     TEXT NOT NULL PRIMARY KEY,
    device_id   TEXT NOT NULL,
    device_data TEXT NOT NULL,
    created_ts  BIGINT NOT NULL
);

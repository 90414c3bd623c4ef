-- End-to-end encryption: device keys, one-time and fallback keys,
-- cross-signing keys, device list changes and to-device messages. The
-- server stores keys as the clients signed them and never sees plaintext.
INSERT INTO streams (name, pos) VALUES ('device_lists', 0), ('to_device', 0);

CREATE TABLE device_keys (
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    key_json   TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

CREATE TABLE one_time_keys (
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_id    TEXT NOT NULL, -- algorithm:id
    algorithm TEXT NOT NULL,
    key_json  TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, key_id)
);
CREATE INDEX one_time_keys_algorithm ON one_time_keys (user_id, device_id, algorithm);

CREATE TABLE fallback_keys (
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    key_json  TEXT NOT NULL,
    used      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, device_id, algorithm)
);

-- key_type: master, self_signing, user_signing.
CREATE TABLE cross_signing_keys (
    user_id  TEXT NOT NULL,
    key_type TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
);

-- A signature by signer_user's key signer_key_id over target_user's key
-- target_key_id (a device id or a cross-signing public key).
CREATE TABLE key_signatures (
    target_user   TEXT NOT NULL,
    target_key_id TEXT NOT NULL,
    signer_user   TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,
    signature     TEXT NOT NULL,
    PRIMARY KEY (target_user, target_key_id, signer_user, signer_key_id)
);

-- One row per change of a user's devices or cross-signing keys.
CREATE TABLE device_list_changes (
    stream_pos BIGINT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL
);
CREATE INDEX device_list_changes_user ON device_list_changes (user_id, stream_pos);

CREATE TABLE to_device_messages (
    stream_pos BIGINT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    sender     TEXT NOT NULL,
    type       TEXT NOT NULL,
    content    TEXT NOT NULL
);
CREATE INDEX to_device_messages_device ON to_device_messages (user_id, device_id, stream_pos);

-- Accounts, devices, tokens and the per-user data of the client API.

-- A counter per stream; a position is taken with
-- UPDATE streams SET pos = pos + 1 WHERE name = $1 RETURNING pos.
CREATE TABLE streams (
    name TEXT PRIMARY KEY,
    pos  BIGINT NOT NULL
);
INSERT INTO streams (name, pos) VALUES ('account_data', 0), ('guest', 0), ('filter', 0);

-- One row per local account, kept after deactivation so that the id is
-- never registered again.
CREATE TABLE accounts (
    localpart     TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL DEFAULT '', -- '' means password login is off
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    is_guest      BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated   BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts    BIGINT NOT NULL
);

CREATE TABLE devices (
    localpart    TEXT NOT NULL REFERENCES accounts (localpart),
    device_id    TEXT NOT NULL,
    display_name TEXT,
    created_ts   BIGINT NOT NULL,
    last_seen_ts BIGINT NOT NULL,
    last_seen_ip TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (localpart, device_id)
);

-- Tokens are stored as SHA-256 hex digests, never in clear.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    localpart  TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    prev_hash  TEXT NOT NULL DEFAULT '', -- the refresh token this one replaced
    created_ts BIGINT NOT NULL,
    FOREIGN KEY (localpart, device_id) REFERENCES devices (localpart, device_id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_device ON refresh_tokens (localpart, device_id);
CREATE INDEX refresh_tokens_prev ON refresh_tokens (prev_hash);

CREATE TABLE access_tokens (
    token_hash   TEXT PRIMARY KEY,
    localpart    TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    refresh_hash TEXT NOT NULL DEFAULT '', -- the refresh token issued with it
    created_ts   BIGINT NOT NULL,
    expires_ts   BIGINT NOT NULL DEFAULT 0, -- 0: never expires
    FOREIGN KEY (localpart, device_id) REFERENCES devices (localpart, device_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_device ON access_tokens (localpart, device_id);
CREATE INDEX access_tokens_refresh ON access_tokens (refresh_hash);

-- Short-lived tokens for m.login.token.
CREATE TABLE login_tokens (
    token_hash TEXT PRIMARY KEY,
    localpart  TEXT NOT NULL REFERENCES accounts (localpart),
    expires_ts BIGINT NOT NULL
);

CREATE TABLE profiles (
    localpart   TEXT PRIMARY KEY REFERENCES accounts (localpart),
    displayname TEXT,
    avatar_url  TEXT
);

-- Global account data has room_id ''.
CREATE TABLE account_data (
    localpart  TEXT NOT NULL,
    room_id    TEXT NOT NULL,
    type       TEXT NOT NULL,
    content    TEXT NOT NULL,
    stream_pos BIGINT NOT NULL,
    PRIMARY KEY (localpart, room_id, type)
);
CREATE INDEX account_data_stream ON account_data (localpart, stream_pos);

CREATE TABLE filters (
    localpart TEXT NOT NULL,
    filter_id BIGINT NOT NULL,
    filter    TEXT NOT NULL,
    PRIMARY KEY (localpart, filter_id)
);

-- User-interactive auth sessions. A session serves one request (method and
-- path) and is consumed when that request succeeds.
CREATE TABLE uia_sessions (
    session_id TEXT PRIMARY KEY,
    endpoint   TEXT NOT NULL,
    localpart  TEXT NOT NULL DEFAULT '',
    completed  TEXT NOT NULL DEFAULT '[]', -- JSON list of completed stages
    reg_token  TEXT NOT NULL DEFAULT '', -- registration token that a stage accepted
    created_ts BIGINT NOT NULL,
    consumed   BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE registration_tokens (
    token        TEXT PRIMARY KEY,
    uses_allowed BIGINT, -- NULL: unlimited
    pending      BIGINT NOT NULL DEFAULT 0,
    completed    BIGINT NOT NULL DEFAULT 0,
    expiry_ts    BIGINT -- NULL: never expires
);

-- Pushers: where a user's notifications are pushed (client-server API,
-- Push Notifications). A pusher belongs to the device whose access token
-- set it and goes when that device does. data is the JSON object the
-- client gave, url included.
--
-- delivered_pos is the durable delivery position: every notification of
-- the user up to this events-stream position has been acknowledged by the
-- push gateway or given up on. It starts at the push evaluator's position
-- when the pusher is created, so a new pusher is not sent old history, and
-- moves only after the gateway answered: a restart resends what nobody
-- acknowledged.
CREATE TABLE pushers (
    user_id             TEXT NOT NULL,
    localpart           TEXT NOT NULL, -- with device_id: the owning device
    device_id           TEXT NOT NULL,
    app_id              TEXT NOT NULL,
    pushkey             TEXT NOT NULL,
    kind                TEXT NOT NULL,
    app_display_name    TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag         TEXT NOT NULL DEFAULT '',
    lang                TEXT NOT NULL,
    data                TEXT NOT NULL, -- a JSON object
    pushkey_ts          BIGINT NOT NULL, -- unix milliseconds of the last change
    delivered_pos       BIGINT NOT NULL,
    PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX pushers_device ON pushers (localpart, device_id);
CREATE INDEX pushers_pushkey ON pushers (app_id, pushkey);

-- The push sender asks which users were notified after a position.
CREATE INDEX notifications_pos ON notifications (stream_pos);

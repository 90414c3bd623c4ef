-- The media repository. Files live on disk under the media directory,
-- addressed by the SHA-256 of their content (content_hash, lower-case hex),
-- so identical uploads share one file; these tables hold what points at
-- them. A file is removed when no media or thumbnail row names its hash.

-- One row per mxc:// URI: local uploads (server = our name, uploader set)
-- and, later, remote media cached from other servers (uploader '').
-- content_hash is '' while an id reserved by /create awaits its upload;
-- expires_ts is when such a reservation lapses (0 once uploaded).
CREATE TABLE media (
    server       TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename     TEXT NOT NULL,
    size         BIGINT NOT NULL,
    uploader     TEXT NOT NULL,
    created_ts   BIGINT NOT NULL,
    expires_ts   BIGINT NOT NULL,
    PRIMARY KEY (server, media_id)
);
CREATE INDEX media_content_hash ON media (content_hash);
CREATE INDEX media_uploader ON media (uploader, created_ts);

-- Thumbnails made from media, by the size and method asked for.
CREATE TABLE thumbnails (
    server       TEXT NOT NULL,
    media_id     TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    method       TEXT NOT NULL, -- crop or scale
    content_hash TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    created_ts   BIGINT NOT NULL,
    PRIMARY KEY (server, media_id, width, height, method)
);
CREATE INDEX thumbnails_content_hash ON thumbnails (content_hash);

-- Cached URL previews: the JSON answer for a URL as fetched at fetched_ts.
CREATE TABLE url_previews (
    url          TEXT NOT NULL PRIMARY KEY,
    preview_json TEXT NOT NULL,
    fetched_ts   BIGINT NOT NULL
);
CREATE INDEX url_previews_fetched ON url_previews (fetched_ts);

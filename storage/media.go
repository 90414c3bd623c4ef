package storage

import (
	"context"
	"database/sql"
	"fmt"
)

// Media is the metadata of one mxc:// URI. Local uploads have Server set to
// our server name and Uploader to the local user; remote media cached from
// another server (not yet fetched) will have Uploader "".
type Media struct {
	Server      string
	MediaID     string
	ContentHash string // lower-case hex SHA-256 of the file; "" while reserved
	ContentType string
	Filename    string
	Size        int64
	Uploader    string
	CreatedTS   int64
	ExpiresTS   int64 // when an unused reservation lapses; 0 once uploaded
}

// Uploaded reports whether the media has content (is not a reservation
// still waiting for its upload).
func (m Media) Uploaded() bool { return m.ContentHash != "" }

// Thumbnail is a thumbnail of a media item at a requested size and method.
type Thumbnail struct {
	Server      string
	MediaID     string
	Width       int
	Height      int
	Method      string // crop or scale
	ContentHash string
	ContentType string
	Size        int64
	CreatedTS   int64
}

const mediaColumns = "server, media_id, content_hash, content_type, filename, size, uploader, created_ts, expires_ts"

func scanMedia(row interface{ Scan(...any) error }) (Media, error) {
	var m Media
	err := row.Scan(&m.Server, &m.MediaID, &m.ContentHash, &m.ContentType, &m.Filename, &m.Size,
		&m.Uploader, &m.CreatedTS, &m.ExpiresTS)
	return m, err
}

// InsertMedia stores a media row: an upload (ContentHash set) or a
// reservation (ContentHash "" and ExpiresTS set). Returns ErrExists if the
// server already has media with that id.
func (tx *Tx) InsertMedia(ctx context.Context, m Media) error {
	_, err := tx.tx.ExecContext(ctx, "INSERT INTO media ("+mediaColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		m.Server, m.MediaID, m.ContentHash, m.ContentType, m.Filename, m.Size, m.Uploader, m.CreatedTS, m.ExpiresTS)
	if tx.dialect.isUniqueViolation(err) {
		return fmt.Errorf("media %s/%s: %w", m.Server, m.MediaID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("insert media %s/%s: %w", m.Server, m.MediaID, err)
	}
	return nil
}

// FillMedia gives a reserved media id its content: hash, type, file name
// and size, and clears its expiry. Returns ErrNotFound if there is no such
// row and ErrExists if it already has content.
func (tx *Tx) FillMedia(ctx context.Context, m Media) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE media SET content_hash = $3, content_type = $4, filename = $5,
		size = $6, expires_ts = 0 WHERE server = $1 AND media_id = $2 AND content_hash = ''`,
		m.Server, m.MediaID, m.ContentHash, m.ContentType, m.Filename, m.Size)
	if err != nil {
		return fmt.Errorf("fill media %s/%s: %w", m.Server, m.MediaID, err)
	}
	if err := oneRow(res); err == nil || err != ErrNotFound {
		return err
	}
	if _, err := tx.Media(ctx, m.Server, m.MediaID); err != nil {
		return err
	}
	return fmt.Errorf("media %s/%s: %w", m.Server, m.MediaID, ErrExists)
}

// Media returns a media row. Returns ErrNotFound if there is none.
func (db *DB) Media(ctx context.Context, server, mediaID string) (Media, error) {
	return media(ctx, db.read, server, mediaID)
}

// Media is DB.Media inside the transaction.
func (tx *Tx) Media(ctx context.Context, server, mediaID string) (Media, error) {
	return media(ctx, tx.tx, server, mediaID)
}

func media(ctx context.Context, q querier, server, mediaID string) (Media, error) {
	m, err := scanMedia(q.QueryRowContext(ctx, "SELECT "+mediaColumns+" FROM media WHERE server = $1 AND media_id = $2",
		server, mediaID))
	if err != nil {
		return Media{}, notFound(err)
	}
	return m, nil
}

// MediaUsage returns the total size of the media the user uploaded.
func (tx *Tx) MediaUsage(ctx context.Context, uploader string) (int64, error) {
	return mediaUsage(ctx, tx.tx, uploader)
}

// MediaUsage is Tx.MediaUsage on the read pool.
func (db *DB) MediaUsage(ctx context.Context, uploader string) (int64, error) {
	return mediaUsage(ctx, db.read, uploader)
}

func mediaUsage(ctx context.Context, q querier, uploader string) (int64, error) {
	var used sql.NullInt64
	if err := q.QueryRowContext(ctx, "SELECT SUM(size) FROM media WHERE uploader = $1", uploader).Scan(&used); err != nil {
		return 0, fmt.Errorf("media usage of %s: %w", uploader, err)
	}
	return used.Int64, nil
}

// PendingMedia counts the user's reservations that await their upload and
// have not lapsed at nowMS.
func (db *DB) PendingMedia(ctx context.Context, uploader string, nowMS int64) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM media
		WHERE uploader = $1 AND content_hash = '' AND expires_ts > $2`, uploader, nowMS).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pending media of %s: %w", uploader, err)
	}
	return n, nil
}

// DeleteMedia removes a media row and its thumbnail rows and returns the
// content hashes that no row names any more: their files may be removed.
// Returns ErrNotFound if there is no such media.
func (tx *Tx) DeleteMedia(ctx context.Context, server, mediaID string) (orphans []string, err error) {
	m, err := tx.Media(ctx, server, mediaID)
	if err != nil {
		return nil, err
	}
	hashes := []string{}
	if m.Uploaded() {
		hashes = append(hashes, m.ContentHash)
	}
	rows, err := tx.tx.QueryContext(ctx, "SELECT content_hash FROM thumbnails WHERE server = $1 AND media_id = $2",
		server, mediaID)
	if err != nil {
		return nil, fmt.Errorf("thumbnails of %s/%s: %w", server, mediaID, err)
	}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return nil, err
		}
		hashes = append(hashes, h)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, table := range []string{"thumbnails", "media"} {
		if _, err := tx.tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE server = $1 AND media_id = $2",
			server, mediaID); err != nil {
			return nil, fmt.Errorf("delete %s of %s/%s: %w", table, server, mediaID, err)
		}
	}
	return tx.unreferenced(ctx, hashes)
}

// DeleteExpiredMedia removes reservations that lapsed before nowMS without
// an upload and returns how many.
func (tx *Tx) DeleteExpiredMedia(ctx context.Context, nowMS int64) (int64, error) {
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM media WHERE content_hash = '' AND expires_ts > 0 AND expires_ts <= $1", nowMS)
	if err != nil {
		return 0, fmt.Errorf("delete expired media: %w", err)
	}
	return res.RowsAffected()
}

// unreferenced returns the hashes (without duplicates) that no media or
// thumbnail row names.
func (tx *Tx) unreferenced(ctx context.Context, hashes []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, h := range hashes {
		if seen[h] {
			continue
		}
		seen[h] = true
		used, err := tx.ContentHashUsed(ctx, h)
		if err != nil {
			return nil, err
		}
		if !used {
			out = append(out, h)
		}
	}
	return out, nil
}

// ContentHashUsed reports whether a media or thumbnail row names the hash.
func (tx *Tx) ContentHashUsed(ctx context.Context, hash string) (bool, error) {
	var n int
	err := tx.tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM media WHERE content_hash = $1)
		+ (SELECT COUNT(*) FROM thumbnails WHERE content_hash = $1)`, hash).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("references to %s: %w", hash, err)
	}
	return n > 0, nil
}

// Thumbnails returns the stored thumbnails of a media item.
func (db *DB) Thumbnails(ctx context.Context, server, mediaID string) ([]Thumbnail, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT server, media_id, width, height, method, content_hash,
		content_type, size, created_ts FROM thumbnails WHERE server = $1 AND media_id = $2
		ORDER BY width, height, method`, server, mediaID)
	if err != nil {
		return nil, fmt.Errorf("thumbnails of %s/%s: %w", server, mediaID, err)
	}
	defer rows.Close()
	var out []Thumbnail
	for rows.Next() {
		var t Thumbnail
		if err := rows.Scan(&t.Server, &t.MediaID, &t.Width, &t.Height, &t.Method, &t.ContentHash,
			&t.ContentType, &t.Size, &t.CreatedTS); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// InsertThumbnail stores a thumbnail row; one already stored for the same
// media, size and method is kept (made concurrently, it has the same
// content). Returns ErrNotFound if the media no longer exists.
func (tx *Tx) InsertThumbnail(ctx context.Context, t Thumbnail) error {
	if _, err := tx.Media(ctx, t.Server, t.MediaID); err != nil {
		return err
	}
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO thumbnails (server, media_id, width, height, method,
		content_hash, content_type, size, created_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (server, media_id, width, height, method) DO NOTHING`,
		t.Server, t.MediaID, t.Width, t.Height, t.Method, t.ContentHash, t.ContentType, t.Size, t.CreatedTS)
	if err != nil {
		return fmt.Errorf("insert thumbnail of %s/%s: %w", t.Server, t.MediaID, err)
	}
	return nil
}

// CountThumbnails returns how many thumbnails of the media are stored.
func (db *DB) CountThumbnails(ctx context.Context, server, mediaID string) (int, error) {
	var n int
	err := db.read.QueryRowContext(ctx, "SELECT COUNT(*) FROM thumbnails WHERE server = $1 AND media_id = $2",
		server, mediaID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count thumbnails of %s/%s: %w", server, mediaID, err)
	}
	return n, nil
}

// URLPreview returns the cached preview JSON of a URL and when it was
// fetched. Returns ErrNotFound if none is cached.
func (db *DB) URLPreview(ctx context.Context, url string) (previewJSON string, fetchedTS int64, err error) {
	err = db.read.QueryRowContext(ctx, "SELECT preview_json, fetched_ts FROM url_previews WHERE url = $1", url).
		Scan(&previewJSON, &fetchedTS)
	if err != nil {
		return "", 0, notFound(err)
	}
	return previewJSON, fetchedTS, nil
}

// PutURLPreview caches (replacing) the preview JSON of a URL.
func (tx *Tx) PutURLPreview(ctx context.Context, url, previewJSON string, fetchedTS int64) error {
	_, err := tx.tx.ExecContext(ctx, `INSERT INTO url_previews (url, preview_json, fetched_ts) VALUES ($1, $2, $3)
		ON CONFLICT (url) DO UPDATE SET preview_json = excluded.preview_json, fetched_ts = excluded.fetched_ts`,
		url, previewJSON, fetchedTS)
	if err != nil {
		return fmt.Errorf("put url preview: %w", err)
	}
	return nil
}

// DeleteURLPreviewsBefore removes previews fetched before ts and returns
// how many.
func (tx *Tx) DeleteURLPreviewsBefore(ctx context.Context, ts int64) (int64, error) {
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM url_previews WHERE fetched_ts < $1", ts)
	if err != nil {
		return 0, fmt.Errorf("delete old url previews: %w", err)
	}
	return res.RowsAffected()
}

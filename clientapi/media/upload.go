package media

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// Upload is one upload: the body is read exactly once, as a stream.
type Upload struct {
	Body          io.Reader
	ContentLength int64  // as the client declared it; -1 if unknown
	ContentType   string // as the client sent it; normalised before storing
	Filename      string // "" for none
	Uploader      string // local user id
}

// maxFilenameBytes bounds the file name of an upload.
const maxFilenameBytes = 1024

// Upload stores new media and returns its mxc:// URI. Bodies over the
// upload limit give M_TOO_LARGE and bodies past the user's quota
// M_FORBIDDEN, whatever Content-Length claimed: bytes are counted as they
// arrive.
func (m *Media) Upload(ctx context.Context, up Upload) (string, error) {
	if err := checkFilename(up.Filename); err != nil {
		return "", err
	}
	tmp, err := m.receive(ctx, up)
	if err != nil {
		return "", err
	}
	defer tmp.discard()
	meta := storage.Media{
		Server: m.cfg.ServerName, MediaID: newMediaID(), ContentHash: tmp.hash,
		ContentType: normalizeContentType(up.ContentType), Filename: up.Filename, Size: tmp.size, Uploader: up.Uploader,
	}
	err = m.commit(ctx, tmp, func(ctx context.Context, tx *storage.Tx) error {
		if err := m.checkQuota(ctx, tx, up.Uploader, tmp.size); err != nil {
			return err
		}
		meta.CreatedTS = tx.Now.UnixMilli()
		return tx.InsertMedia(ctx, meta)
	})
	if err != nil {
		return "", err
	}
	m.queueThumbnails(meta)
	return MXC(meta.Server, meta.MediaID), nil
}

// Create reserves a media id for an asynchronous upload by the user and
// returns its mxc:// URI and when the reservation lapses (ms since the
// epoch). A user with MaxPendingUploads reservations waiting gets
// M_LIMIT_EXCEEDED.
func (m *Media) Create(ctx context.Context, uploader string) (uri string, expiresTS int64, err error) {
	pending, err := m.db.PendingMedia(ctx, uploader, m.db.Now().UnixMilli())
	if err != nil {
		return "", 0, err
	}
	if pending >= MaxPendingUploads {
		return "", 0, mxerr.LimitExceeded(time.Minute)
	}
	meta := storage.Media{Server: m.cfg.ServerName, MediaID: newMediaID(), Uploader: uploader}
	err = m.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		meta.CreatedTS = tx.Now.UnixMilli()
		meta.ExpiresTS = tx.Now.Add(ReservationLifetime).UnixMilli()
		return tx.InsertMedia(ctx, meta)
	})
	if err != nil {
		return "", 0, err
	}
	return MXC(meta.Server, meta.MediaID), meta.ExpiresTS, nil
}

// UploadTo fills an id reserved with Create. Only the user who reserved it
// may, once (M_CANNOT_OVERWRITE_MEDIA after), before it lapses.
func (m *Media) UploadTo(ctx context.Context, server, mediaID string, up Upload) error {
	if err := m.checkLocal(server, mediaID); err != nil {
		return err
	}
	if err := checkFilename(up.Filename); err != nil {
		return err
	}
	reserved, err := m.db.Media(ctx, server, mediaID)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("unknown media id")
	}
	if err != nil {
		return err
	}
	if err := checkReservation(reserved, up.Uploader, m.db.Now().UnixMilli()); err != nil {
		return err
	}
	tmp, err := m.receive(ctx, up)
	if err != nil {
		return err
	}
	defer tmp.discard()
	meta := reserved
	meta.ContentHash, meta.ContentType, meta.Filename, meta.Size = tmp.hash, normalizeContentType(up.ContentType), up.Filename, tmp.size
	err = m.commit(ctx, tmp, func(ctx context.Context, tx *storage.Tx) error {
		now, err := tx.Media(ctx, server, mediaID)
		if errors.Is(err, storage.ErrNotFound) {
			return mxerr.NotFound("unknown media id")
		}
		if err != nil {
			return err
		}
		if err := checkReservation(now, up.Uploader, tx.Now.UnixMilli()); err != nil {
			return err
		}
		if err := m.checkQuota(ctx, tx, up.Uploader, tmp.size); err != nil {
			return err
		}
		return tx.FillMedia(ctx, meta)
	})
	if errors.Is(err, storage.ErrExists) {
		return cannotOverwrite()
	}
	if err != nil {
		return err
	}
	m.uploads.wake(server, mediaID)
	m.queueThumbnails(meta)
	return nil
}

// checkReservation refuses an upload into reserved media by another user,
// into media that has content, and into a lapsed reservation.
func checkReservation(meta storage.Media, uploader string, nowMS int64) error {
	switch {
	case meta.Uploader != uploader:
		return mxerr.Forbidden("only the user who created this media id may upload to it")
	case meta.Uploaded():
		return cannotOverwrite()
	case meta.ExpiresTS <= nowMS:
		return mxerr.NotFound("media id has expired")
	}
	return nil
}

func cannotOverwrite() error {
	return mxerr.New(http.StatusConflict, "M_CANNOT_OVERWRITE_MEDIA", "media already uploaded")
}

// Delete removes a media item and its thumbnails, and the files of those
// whose content no other media or thumbnail shares. Returns
// storage.ErrNotFound if there is no such media.
func (m *Media) Delete(ctx context.Context, server, mediaID string) error {
	m.refs.Lock()
	defer m.refs.Unlock()
	var orphans []string
	err := m.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		orphans, err = tx.DeleteMedia(ctx, server, mediaID)
		return err
	})
	if err != nil {
		return errorf(server, mediaID, "delete", err)
	}
	var errs []error
	for _, hash := range orphans {
		errs = append(errs, m.files.remove(hash))
	}
	return errors.Join(errs...)
}

// DeleteLocal is Delete for an administrator's request: ids that break the
// grammar give M_INVALID_PARAM, media of other servers 400 M_INVALID_PARAM
// (this server cannot delete them), unknown media M_NOT_FOUND. Once it
// returns, downloads and thumbnails of the media answer M_NOT_FOUND.
func (m *Media) DeleteLocal(ctx context.Context, server, mediaID string) error {
	if err := checkIDs(server, mediaID); err != nil {
		return err
	}
	if server != m.cfg.ServerName {
		return mxerr.InvalidParam("only media of this server can be deleted")
	}
	err := m.Delete(ctx, server, mediaID)
	if errors.Is(err, storage.ErrNotFound) {
		return notFound()
	}
	return err
}

// uploadLimit is how many bytes an upload may have, and why.
type uploadLimit struct {
	bytes   int64
	byQuota bool // the user's remaining quota, not the size limit
}

func (l uploadLimit) exceeded() error {
	if l.byQuota {
		return mxerr.Forbidden("upload would exceed your media quota")
	}
	return mxerr.TooLarge("upload is larger than %d bytes", l.bytes)
}

// limitFor returns the upload limit of the user: the configured size
// limit, or less if the quota has less room left.
func (m *Media) limitFor(ctx context.Context, uploader string) (uploadLimit, error) {
	l := uploadLimit{bytes: m.cfg.MaxUploadBytes}
	if m.cfg.QuotaBytes <= 0 {
		return l, nil
	}
	used, err := m.db.MediaUsage(ctx, uploader)
	if err != nil {
		return l, err
	}
	if left := m.cfg.QuotaBytes - used; left < l.bytes {
		l = uploadLimit{bytes: max(left, 0), byQuota: true}
	}
	return l, nil
}

// checkQuota refuses an upload of size bytes that would take the user past
// the quota; it runs inside the transaction that stores the upload, so
// that concurrent uploads cannot pass it together.
func (m *Media) checkQuota(ctx context.Context, tx *storage.Tx, uploader string, size int64) error {
	if m.cfg.QuotaBytes <= 0 {
		return nil
	}
	used, err := tx.MediaUsage(ctx, uploader)
	if err != nil {
		return err
	}
	if used+size > m.cfg.QuotaBytes {
		return uploadLimit{byQuota: true}.exceeded()
	}
	return nil
}

// receive streams the upload's body to a temporary file within the user's
// limit. A declared Content-Length over the limit is refused before
// reading; a body that turns out longer than the limit is refused as soon
// as its bytes exceed it.
func (m *Media) receive(ctx context.Context, up Upload) (*tempFile, error) {
	limit, err := m.limitFor(ctx, up.Uploader)
	if err != nil {
		return nil, err
	}
	if up.ContentLength > m.cfg.MaxUploadBytes {
		return nil, uploadLimit{bytes: m.cfg.MaxUploadBytes}.exceeded()
	}
	if up.ContentLength > limit.bytes || (limit.byQuota && limit.bytes == 0) {
		return nil, limit.exceeded()
	}
	body := &bodyReader{r: up.Body}
	tmp, err := m.files.receive(body, limit.bytes)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, limit.exceeded()
	case body.err != nil: // a client that is gone does not read the answer; one that half-closed does
		return nil, mxerr.Unknown("could not read the whole upload")
	case err != nil:
		return nil, err
	}
	return tmp, nil
}

// bodyReader remembers a read error of the request body, to tell a body
// that ended early from a failing disk.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// commit places the received file under its hash and runs record in one
// transaction to store the rows naming it. If record fails, a file placed
// for it that nothing else names is removed again.
func (m *Media) commit(ctx context.Context, tmp *tempFile, record func(ctx context.Context, tx *storage.Tx) error) error {
	m.refs.Lock()
	defer m.refs.Unlock()
	placed, err := m.files.place(tmp)
	if err != nil {
		return err
	}
	err = m.db.WithTx(ctx, record)
	if err != nil && placed {
		if cleanErr := m.removeIfUnused(context.WithoutCancel(ctx), tmp.hash); cleanErr != nil {
			m.log.WithError(cleanErr).Warn("remove media file of a failed upload")
		}
	}
	return err
}

// removeIfUnused removes the file with the hash unless a row names it.
// Call it with m.refs held.
func (m *Media) removeIfUnused(ctx context.Context, hash string) error {
	var used bool
	err := m.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		used, err = tx.ContentHashUsed(ctx, hash)
		return err
	})
	if err != nil || used {
		return err
	}
	return m.files.remove(hash)
}

// normalizeContentType returns the content type to store: the client's,
// in canonical form, or application/octet-stream if it gave none or one
// that does not parse.
func normalizeContentType(s string) string {
	const fallback = "application/octet-stream"
	if s == "" || len(s) > 255 {
		return fallback
	}
	mediaType, params, err := mime.ParseMediaType(s)
	if err != nil {
		return fallback
	}
	if out := mime.FormatMediaType(mediaType, params); out != "" {
		return out
	}
	return fallback
}

// checkFilename refuses file names that are too long, not UTF-8, or hold
// control characters (they end up in a response header).
func checkFilename(name string) error {
	if len(name) > maxFilenameBytes {
		return mxerr.InvalidParam("filename is longer than %d bytes", maxFilenameBytes)
	}
	if !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return mxerr.InvalidParam("filename must be UTF-8 without control characters")
	}
	return nil
}

package clientapi

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ganglion/ganglion/clientapi/media"
	"github.com/ganglion/ganglion/internal/mxerr"
)

// uploadIdleTimeout is how long an upload may send nothing before it is
// cut off: slow uploads go on, stalled ones do not hold a connection and a
// temporary file forever.
const uploadIdleTimeout = time.Minute

// mediaUpload is the upload in a request: its raw body, streamed (never
// through the JSON decoder and its limit), with the upload's own limits.
func mediaUpload(w http.ResponseWriter, r *http.Request, s *Session) media.Upload {
	return media.Upload{
		Body:          &idleBody{r: r.Body, rc: http.NewResponseController(w)},
		ContentLength: r.ContentLength, ContentType: r.Header.Get("Content-Type"),
		Filename: r.URL.Query().Get("filename"), Uploader: s.UserID,
	}
}

// idleBody moves the connection's read deadline uploadIdleTimeout ahead
// before every read of the body.
type idleBody struct {
	r  io.Reader
	rc *http.ResponseController
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(uploadIdleTimeout)) // unsupported writers just have no deadline
	n, err := b.r.Read(p)
	if err != nil {
		_ = b.rc.SetReadDeadline(time.Time{}) // the body is done; do not cut the rest of the request
	}
	return n, err
}

// uploadMedia is POST /_matrix/media/v3/upload (content repository).
func (a *API) uploadMedia(w http.ResponseWriter, r *http.Request, s *Session) error {
	uri, err := a.media.Upload(r.Context(), mediaUpload(w, r, s))
	if err != nil {
		return err
	}
	return ok(w, map[string]string{"content_uri": uri})
}

// createMedia is POST /_matrix/media/v1/create (content repository).
func (a *API) createMedia(w http.ResponseWriter, r *http.Request, s *Session) error {
	uri, expires, err := a.media.Create(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"content_uri": uri, "unused_expires_at": expires})
}

// uploadMediaTo is PUT /_matrix/media/v3/upload/{serverName}/{mediaId}
// (content repository).
func (a *API) uploadMediaTo(w http.ResponseWriter, r *http.Request, s *Session) error {
	if err := a.media.UploadTo(r.Context(), r.PathValue("serverName"), r.PathValue("mediaId"), mediaUpload(w, r, s)); err != nil {
		return err
	}
	return ok(w, empty)
}

// downloadMedia is GET /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]
// (content repository, authenticated), and the legacy
// /_matrix/media/v3/download when enabled.
func (a *API) downloadMedia(w http.ResponseWriter, r *http.Request, _ *Session) error {
	wait, err := mediaWait(r)
	if err != nil {
		return err
	}
	f, err := a.media.Open(r.Context(), r.PathValue("serverName"), r.PathValue("mediaId"), wait)
	if err != nil {
		return err
	}
	defer f.Close()
	name := f.Filename
	if override := r.PathValue("fileName"); override != "" {
		name = override
	}
	serveMediaFile(w, r, f, media.Disposition(f.ContentType, name))
	return nil
}

// mediaThumbnail is GET /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}
// (content repository, authenticated, "Thumbnails"), and the legacy
// /_matrix/media/v3/thumbnail when enabled.
func (a *API) mediaThumbnail(w http.ResponseWriter, r *http.Request, _ *Session) error {
	req, err := media.ParseThumbnailRequest(r.URL.Query())
	if err != nil {
		return err
	}
	wait, err := mediaWait(r)
	if err != nil {
		return err
	}
	f, err := a.media.Thumbnail(r.Context(), r.PathValue("serverName"), r.PathValue("mediaId"), req, wait)
	if err != nil {
		return err
	}
	defer f.Close()
	serveMediaFile(w, r, f, `inline; filename="`+f.Filename+`"`)
	return nil
}

// mediaConfig is GET /_matrix/client/v1/media/config (content repository).
func (a *API) mediaConfig(w http.ResponseWriter, _ *http.Request, _ *Session) error {
	return ok(w, map[string]any{"m.upload.size": a.media.MaxUploadBytes()})
}

// previewURL is GET /_matrix/client/v1/media/preview_url (content
// repository).
func (a *API) previewURL(w http.ResponseWriter, r *http.Request, _ *Session) error {
	if ts := r.URL.Query().Get("ts"); ts != "" {
		if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
			return mxerr.InvalidParam("ts must be an integer")
		}
	}
	preview, err := a.media.Preview(r.Context(), r.URL.Query().Get("url"))
	if err != nil {
		return err
	}
	return ok(w, preview)
}

// legacyMedia serves a deprecated unauthenticated /_matrix/media/v3
// endpoint when media.legacy_unauthenticated is on; otherwise it answers
// 404 M_NOT_FOUND for all media, the "freeze" the spec recommends.
func (a *API) legacyMedia(h userFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !a.cfg.Media.LegacyUnauthenticated {
			return mxerr.NotFound("unauthenticated media access is disabled; use /_matrix/client/v1/media")
		}
		return h(w, r, nil)
	}
}

// mediaWait reads timeout_ms, how long to wait for an asynchronous upload.
func mediaWait(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("timeout_ms")
	if s == "" {
		return media.DefaultWait, nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 {
		return 0, mxerr.InvalidParam("timeout_ms must be a non-negative integer")
	}
	return time.Duration(min(ms, media.MaxWait.Milliseconds())) * time.Millisecond, nil
}

// serveMediaFile sends stored content with headers that keep a browser
// from running it: the given disposition, the sandboxing CSP and nosniff.
// Range and conditional requests are answered by http.ServeContent.
func serveMediaFile(w http.ResponseWriter, r *http.Request, f *media.File, disposition string) {
	h := w.Header()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Disposition", disposition)
	h.Set("Content-Security-Policy", media.ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("ETag", `"`+f.Hash+`"`)
	http.ServeContent(w, r, "", f.Modified, f)
}

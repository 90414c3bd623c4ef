package media

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// URL preview limits.
const (
	// previewLifetime is how long a fetched preview is served from cache.
	previewLifetime = time.Hour
	// maxPreviewPage is how much of an HTML page is read.
	maxPreviewPage = 1 << 20
	// maxPreviewImage bounds an og:image stored for a preview (and the
	// upload limit, if lower, bounds it too).
	maxPreviewImage = 10 << 20
	// maxPreviewURL bounds the URL asked for.
	maxPreviewURL = 2048
	// previewUserAgent names us to the sites we fetch.
	previewUserAgent = "Ganglion URL preview (Matrix homeserver)"
)

// Preview returns the preview of a web page: its OpenGraph properties
// (og:title, og:description, ...; <title> and the description meta tag
// when they are missing), with og:image stored as media and given as an
// mxc:// URI with its type, size in pixels and matrix:image:size. A URL
// that is an image itself previews as that image. Previews are cached for
// an hour.
//
// Fetches connect only to addresses the configuration allows (never, by
// default, to private, loopback, link-local and other internal ones: 403
// M_FORBIDDEN), within previewTimeout and maxPreviewPage; other fetch
// failures give 502 M_UNKNOWN.
func (m *Media) Preview(ctx context.Context, rawURL string) (map[string]any, error) {
	u, err := checkPreviewURL(rawURL)
	if err != nil {
		return nil, err
	}
	key := u.String()
	if cached, fetched, err := m.db.URLPreview(ctx, key); err == nil &&
		m.db.Now().Sub(time.UnixMilli(fetched)) < previewLifetime {
		var out map[string]any
		if json.Unmarshal([]byte(cached), &out) == nil {
			return out, nil
		}
	} else if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	out, err := m.fetchPreview(ctx, u)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	err = m.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		return tx.PutURLPreview(ctx, key, string(data), tx.Now.UnixMilli())
	})
	return out, err
}

// checkPreviewURL accepts absolute http(s) URLs without credentials.
func checkPreviewURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, mxerr.MissingParam("url is required")
	}
	if len(raw) > maxPreviewURL {
		return nil, mxerr.InvalidParam("url is longer than %d bytes", maxPreviewURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, mxerr.InvalidParam("url must be an absolute http or https URL")
	}
	if u.User != nil {
		return nil, mxerr.InvalidParam("url must not contain credentials")
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// fetchPreview fetches the page and builds its preview.
func (m *Media) fetchPreview(ctx context.Context, u *url.URL) (map[string]any, error) {
	resp, err := m.get(ctx, u.String())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	mediaType, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case mediaType == "text/html" || mediaType == "application/xhtml+xml":
		page, err := io.ReadAll(io.LimitReader(resp.Body, maxPreviewPage))
		if err != nil {
			return nil, fetchFailed(ctx, err)
		}
		meta := parseHTML(decodeCharset(page, params["charset"]))
		return m.pagePreview(ctx, meta, resp.Request.URL), nil
	case strings.HasPrefix(mediaType, "image/"):
		out, err := m.storePreviewImage(ctx, resp.Body)
		var mx *mxerr.Error
		if errors.As(err, &mx) {
			return map[string]any{}, nil // not an image, or too large: no preview
		}
		return out, err
	}
	return map[string]any{}, nil
}

// pagePreview turns what the page declares into the preview, fetching and
// storing its og:image (a relative one resolved against the page's final
// URL). An image that cannot be fetched or is no image is left out.
func (m *Media) pagePreview(ctx context.Context, meta pageMeta, page *url.URL) map[string]any {
	out := map[string]any{}
	for k, v := range meta.og {
		if !strings.HasPrefix(k, "og:image") && v != "" {
			out[k] = v
		}
	}
	if _, ok := out["og:title"]; !ok && meta.title != "" {
		out["og:title"] = meta.title
	}
	if _, ok := out["og:description"]; !ok && meta.description != "" {
		out["og:description"] = meta.description
	}
	imageRef := meta.og["og:image"]
	if imageRef == "" {
		imageRef = meta.og["og:image:url"]
	}
	if imageRef == "" {
		return out
	}
	imageURL, err := page.Parse(imageRef)
	if err != nil || (imageURL.Scheme != "http" && imageURL.Scheme != "https") {
		return out
	}
	resp, err := m.get(ctx, imageURL.String())
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	img, err := m.storePreviewImage(ctx, resp.Body)
	if err != nil {
		return out
	}
	for k, v := range img {
		out[k] = v
	}
	return out
}

// storePreviewImage stores a fetched image as media of the server (no
// uploader) and returns its preview fields. Content that is no image, or
// larger than the limits, gives an error.
func (m *Media) storePreviewImage(ctx context.Context, body io.Reader) (map[string]any, error) {
	tmp, err := m.files.receive(body, min(int64(maxPreviewImage), m.cfg.MaxUploadBytes))
	if err != nil {
		return nil, fetchFailed(ctx, err)
	}
	defer tmp.discard()
	f, err := os.Open(tmp.path)
	if err != nil {
		return nil, err
	}
	cfg, format, err := probe(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	meta := storage.Media{
		Server: m.cfg.ServerName, MediaID: newMediaID(), ContentHash: tmp.hash,
		ContentType: "image/" + format, Size: tmp.size,
	}
	err = m.commit(ctx, tmp, func(ctx context.Context, tx *storage.Tx) error {
		meta.CreatedTS = tx.Now.UnixMilli()
		return tx.InsertMedia(ctx, meta)
	})
	if err != nil {
		return nil, err
	}
	m.queueThumbnails(meta)
	return map[string]any{
		"og:image": MXC(meta.Server, meta.MediaID), "og:image:type": meta.ContentType,
		"og:image:width": cfg.Width, "og:image:height": cfg.Height, "matrix:image:size": meta.Size,
	}, nil
}

// get fetches a URL for a preview with the guarded client and checks for
// a 2xx answer.
func (m *Media) get(ctx context.Context, u string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, previewTimeout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, mxerr.InvalidParam("url cannot be fetched")
	}
	req.Header.Set("User-Agent", previewUserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,image/*;q=0.8,*/*;q=0.5")
	resp, err := m.fetcher.Do(req)
	if err != nil {
		err = fetchFailed(ctx, err) // before cancel, which would make every failure look like a departed client
		cancel()
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		cancel()
		return nil, mxerr.New(http.StatusBadGateway, "M_UNKNOWN", "the URL answered with status %d", resp.StatusCode)
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// fetchFailed maps a fetch error to what the client is told.
func fetchFailed(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, errAddressRefused):
		return mxerr.Forbidden("URL previews of this address are not allowed")
	case errors.Is(err, errTooLarge):
		return mxerr.New(http.StatusBadGateway, "M_TOO_LARGE", "the content at the URL is too large")
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		return ctx.Err()
	}
	return mxerr.New(http.StatusBadGateway, "M_UNKNOWN", "could not fetch the URL")
}

// cancelOnClose releases a fetch's timeout when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// decodeCharset returns the page as UTF-8: pages declared as ISO-8859-1
// or windows-1252 (as Latin-1) are converted, others are taken as UTF-8
// with invalid bytes replaced.
func decodeCharset(page []byte, charset string) string {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "latin-1", "windows-1252", "us-ascii":
		var b strings.Builder
		b.Grow(len(page))
		for _, c := range page {
			b.WriteRune(rune(c))
		}
		return b.String()
	}
	return strings.ToValidUTF8(string(page), "\uFFFD")
}

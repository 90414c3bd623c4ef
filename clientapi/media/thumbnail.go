package media

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// ThumbnailRequest is what a client asks a thumbnail for.
type ThumbnailRequest struct {
	Width, Height int
	Method        string // MethodScale or MethodCrop
	Animated      bool
}

// thumbSpec is a stored thumbnail's size and method: its key.
type thumbSpec struct {
	box
	method string
}

// CommonSizes are the thumbnails the spec says servers should make; they
// are made when an image is uploaded, and requests they satisfy are
// answered with them.
var CommonSizes = []thumbSpec{
	{box{32, 32}, MethodCrop},
	{box{96, 96}, MethodCrop},
	{box{320, 240}, MethodScale},
	{box{640, 480}, MethodScale},
	{box{800, 600}, MethodScale},
}

// Thumbnail limits.
const (
	// maxThumbnailSide bounds requested sizes; larger ones are treated as
	// this (an image that large fits and is returned itself).
	maxThumbnailSide = 1 << 14
	// maxStoredThumbnails is how many thumbnails of one media are kept;
	// requests for further sizes are answered with a thumbnail made for
	// them alone, so that clients cannot fill the disk with variants.
	maxStoredThumbnails = 16
)

// ParseThumbnailRequest reads width, height, method and animated from a
// thumbnail request's query.
func ParseThumbnailRequest(q url.Values) (ThumbnailRequest, error) {
	var req ThumbnailRequest
	for _, p := range []struct {
		name string
		to   *int
	}{{"width", &req.Width}, {"height", &req.Height}} {
		s := q.Get(p.name)
		if s == "" {
			return req, mxerr.MissingParam("%s is required", p.name)
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return req, mxerr.InvalidParam("%s must be a positive integer", p.name)
		}
		*p.to = min(n, maxThumbnailSide)
	}
	switch req.Method = q.Get("method"); req.Method {
	case "":
		req.Method = MethodScale
	case MethodScale, MethodCrop:
	default:
		return req, mxerr.InvalidParam("method must be crop or scale")
	}
	switch q.Get("animated") {
	case "", "false":
	case "true":
		req.Animated = true
	default:
		return req, mxerr.InvalidParam("animated must be true or false")
	}
	return req, nil
}

// satisfies reports whether a thumbnail made as s answers a request for
// want: at least as large, same method, and for crop the same aspect.
func (s thumbSpec) satisfies(want thumbSpec) bool {
	if s.method != want.method || s.w < want.w || s.h < want.h {
		return false
	}
	return s.method == MethodScale || s.w*want.h == s.h*want.w
}

// Thumbnail returns a thumbnail of local media (waiting up to wait for an
// asynchronous upload): a stored one that satisfies the request, else one
// made now (and stored, in the smallest common size that satisfies the
// request or else the requested size). An image no larger than asked is
// returned itself. Content that is no image gives 400 M_UNKNOWN, an image
// over MaxThumbnailPixels 413 M_TOO_LARGE.
func (m *Media) Thumbnail(ctx context.Context, server, mediaID string, req ThumbnailRequest, wait time.Duration) (*File, error) {
	meta, err := m.lookup(ctx, server, mediaID, wait)
	if err != nil {
		return nil, err
	}
	want := thumbSpec{box{req.Width, req.Height}, req.Method}
	if f, err := m.storedThumbnail(ctx, meta, want, false); f != nil || err != nil {
		return f, err
	}
	spec := want
	for _, c := range CommonSizes {
		if c.satisfies(want) {
			spec = c
			break
		}
	}
	unlock := m.making.lock(thumbKey(meta, spec))
	defer unlock()
	if f, err := m.storedThumbnail(ctx, meta, spec, false); f != nil || err != nil {
		return f, err
	}
	return m.makeThumbnail(ctx, meta, spec, req.Animated)
}

// storedThumbnail opens the smallest stored thumbnail that satisfies want
// (if exact, only one made as want), or returns nil.
func (m *Media) storedThumbnail(ctx context.Context, meta storage.Media, want thumbSpec, exact bool) (*File, error) {
	thumbs, err := m.db.Thumbnails(ctx, meta.Server, meta.MediaID)
	if err != nil {
		return nil, err
	}
	var best *storage.Thumbnail
	for i, t := range thumbs {
		spec := thumbSpec{box{t.Width, t.Height}, t.Method}
		if !spec.satisfies(want) || (exact && spec != want) {
			continue
		}
		if best == nil || t.Width*t.Height < best.Width*best.Height {
			best = &thumbs[i]
		}
	}
	if best == nil {
		return nil, nil
	}
	f, err := m.files.open(best.ContentHash)
	if err != nil {
		return nil, errorf(meta.Server, meta.MediaID, "open thumbnail of", err)
	}
	return &File{
		File: f, ContentType: best.ContentType, Filename: thumbnailName(best.ContentType), Hash: best.ContentHash,
		Size: best.Size, Modified: time.UnixMilli(best.CreatedTS),
	}, nil
}

// makeThumbnail makes the thumbnail spec of the media, or returns the
// image itself if it is no larger (a GIF only if animation was asked
// for: its other frames would animate).
func (m *Media) makeThumbnail(ctx context.Context, meta storage.Media, spec thumbSpec, animated bool) (*File, error) {
	orig, err := m.openContent(meta)
	if err != nil {
		return nil, err
	}
	cfg, format, err := probe(orig)
	if err != nil {
		orig.Close()
		return nil, err
	}
	if _, original := plan(box{cfg.Width, cfg.Height}, spec.box, spec.method); original && (format != "gif" || animated) {
		if _, err := orig.Seek(0, io.SeekStart); err != nil {
			orig.Close()
			return nil, err
		}
		orig.ContentType, orig.Filename = "image/"+format, "thumbnail."+format
		return orig, nil
	}
	img, err := m.decodeAt(ctx, orig.File, cfg)
	orig.Close()
	if err != nil {
		return nil, err
	}
	count, err := m.db.CountThumbnails(ctx, meta.Server, meta.MediaID)
	if err != nil {
		return nil, err
	}
	return m.storeThumbnail(ctx, meta, spec, img, format, count < maxStoredThumbnails)
}

// decodeAt decodes the image in f, of the size its header declares, from
// its start, within the bound of concurrent decodes: an image over
// largeImagePixels takes the place of two, so that at most one such image
// is held decoded at a time.
func (m *Media) decodeAt(ctx context.Context, f *os.File, size image.Config) (image.Image, error) {
	weight := 1
	if int64(size.Width)*int64(size.Height) > largeImagePixels {
		weight = maxConcurrentDecodes
	}
	release, err := m.acquireDecode(ctx, weight)
	if err != nil {
		return nil, err
	}
	defer release()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return decode(f)
}

// acquireDecode takes weight places of the decode bound. Taking several
// is serialised, so that two takers cannot each hold part and wait.
func (m *Media) acquireDecode(ctx context.Context, weight int) (release func(), err error) {
	if weight > 1 {
		m.largeDecode.Lock()
		defer m.largeDecode.Unlock()
	}
	for taken := 0; taken < weight; taken++ {
		select {
		case m.decodes <- struct{}{}:
		case <-ctx.Done():
			for range taken {
				<-m.decodes
			}
			return nil, ctx.Err()
		}
	}
	return func() {
		for range weight {
			<-m.decodes
		}
	}, nil
}

// storeThumbnail makes the thumbnail spec of img, stores it if keep, and
// opens it.
func (m *Media) storeThumbnail(ctx context.Context, meta storage.Media, spec thumbSpec, img image.Image, format string, keep bool) (*File, error) {
	b := img.Bounds()
	out, _ := plan(box{b.Dx(), b.Dy()}, spec.box, spec.method)
	tmp, contentType, err := m.encodeThumbnail(meta, resize(img, out, spec.method), format)
	if err != nil {
		return nil, err
	}
	defer tmp.discard()
	file := &File{ContentType: contentType, Filename: thumbnailName(contentType), Hash: tmp.hash, Size: tmp.size}
	if !keep {
		// Open before discard removes the name: the open file stays readable.
		f, err := os.Open(tmp.path)
		if err != nil {
			return nil, err
		}
		file.File, file.Modified = f, m.db.Now()
		return file, nil
	}
	row, err := m.saveThumbnail(ctx, meta, spec, tmp, contentType)
	if err != nil {
		return nil, err
	}
	f, err := m.files.open(row.ContentHash)
	if err != nil {
		return nil, err
	}
	file.File, file.Modified = f, time.UnixMilli(row.CreatedTS)
	return file, nil
}

// encodeThumbnail encodes a thumbnail into a temporary file and returns
// it with its content type.
func (m *Media) encodeThumbnail(meta storage.Media, thumb image.Image, format string) (*tempFile, string, error) {
	var contentType string
	tmp, err := m.files.write(func(w io.Writer) (int64, error) {
		cw := &countingWriter{w: w}
		var err error
		contentType, err = encode(cw, thumb, format)
		return cw.n, err
	})
	if err != nil {
		return nil, "", errorf(meta.Server, meta.MediaID, "write thumbnail of", err)
	}
	return tmp, contentType, nil
}

// saveThumbnail places an encoded thumbnail and stores its row. Media
// deleted meanwhile gives M_NOT_FOUND.
func (m *Media) saveThumbnail(ctx context.Context, meta storage.Media, spec thumbSpec, tmp *tempFile, contentType string) (storage.Thumbnail, error) {
	row := storage.Thumbnail{
		Server: meta.Server, MediaID: meta.MediaID, Width: spec.w, Height: spec.h, Method: spec.method,
		ContentHash: tmp.hash, ContentType: contentType, Size: tmp.size,
	}
	err := m.commit(ctx, tmp, func(ctx context.Context, tx *storage.Tx) error {
		row.CreatedTS = tx.Now.UnixMilli()
		return tx.InsertThumbnail(ctx, row)
	})
	if errors.Is(err, storage.ErrNotFound) {
		return row, notFound()
	}
	if err != nil {
		return row, errorf(meta.Server, meta.MediaID, "store thumbnail of", err)
	}
	return row, nil
}

// queueThumbnails asks Run to make the common thumbnails of an upload that
// says it is an image; if Run is busy they are made on first request.
func (m *Media) queueThumbnails(meta storage.Media) {
	if !strings.HasPrefix(meta.ContentType, "image/") {
		return
	}
	select {
	case m.thumbJobs <- meta:
	default:
	}
}

// makeCommonThumbnails makes the common thumbnails of an image that it
// has not yet, decoding it once. The largest is made first and the others
// from it where that gives the same size, which is much cheaper than from
// the full image. Content that is no image, or too large, is skipped.
func (m *Media) makeCommonThumbnails(ctx context.Context, meta storage.Media) {
	orig, err := m.openContent(meta)
	if err != nil {
		m.log.WithError(err).Warn("make common thumbnails")
		return
	}
	defer orig.Close()
	cfg, format, err := probe(orig)
	if err != nil {
		return
	}
	full := box{cfg.Width, cfg.Height}
	var img, base image.Image
	for i := len(CommonSizes) - 1; i >= 0; i-- { // largest first
		spec := CommonSizes[i]
		out, original := plan(full, spec.box, spec.method)
		if original && format != "gif" {
			continue
		}
		if img == nil {
			if img, err = m.decodeAt(ctx, orig.File, cfg); err != nil {
				return
			}
		}
		src := img
		if base != nil {
			if b := base.Bounds(); plan2(box{b.Dx(), b.Dy()}, spec) == out {
				src = base
			}
		}
		made, err := m.makeCommonThumbnail(ctx, meta, spec, src, format)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, errNotFoundMedia) {
				m.log.WithError(err).Warn("make common thumbnail")
			}
			return
		}
		if base == nil {
			base = made
		}
	}
}

// plan2 is the output size of plan.
func plan2(img box, spec thumbSpec) box {
	out, _ := plan(img, spec.box, spec.method)
	return out
}

// errNotFoundMedia marks media deleted while its thumbnails were made.
var errNotFoundMedia = errors.New("media deleted")

// makeCommonThumbnail makes and stores one common thumbnail unless it is
// stored already, and returns it decoded when it made it (nil otherwise).
func (m *Media) makeCommonThumbnail(ctx context.Context, meta storage.Media, spec thumbSpec, img image.Image, format string) (image.Image, error) {
	unlock := m.making.lock(thumbKey(meta, spec))
	defer unlock()
	f, err := m.storedThumbnail(ctx, meta, spec, true)
	if err != nil || f != nil {
		if f != nil {
			err = f.Close()
		}
		return nil, err
	}
	b := img.Bounds()
	out, _ := plan(box{b.Dx(), b.Dy()}, spec.box, spec.method)
	thumb := resize(img, out, spec.method)
	tmp, contentType, err := m.encodeThumbnail(meta, thumb, format)
	if err != nil {
		return nil, err
	}
	defer tmp.discard()
	_, err = m.saveThumbnail(ctx, meta, spec, tmp, contentType)
	var mx *mxerr.Error
	if errors.As(err, &mx) && mx.Code == "M_NOT_FOUND" {
		return nil, errNotFoundMedia
	}
	return thumb, err
}

// thumbKey names a thumbnail for the lock that makes it once.
func thumbKey(meta storage.Media, spec thumbSpec) string {
	return fmt.Sprintf("%s/%s/%dx%d/%s", meta.Server, meta.MediaID, spec.w, spec.h, spec.method)
}

// thumbnailName is the file name a thumbnail is served with.
func thumbnailName(contentType string) string {
	if contentType == "image/jpeg" {
		return "thumbnail.jpeg"
	}
	return "thumbnail.png"
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

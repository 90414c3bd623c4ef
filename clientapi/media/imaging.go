package media

import (
	"bufio"
	"fmt"
	"image"
	_ "image/gif" // GIF decoding (the first frame) for thumbnails
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
	_ "golang.org/x/image/webp" // WebP decoding for thumbnails

	"github.com/ganglion/ganglion/internal/mxerr"
)

// Image limits.
const (
	// MaxThumbnailPixels is the largest image, in pixels, that is decoded
	// to make thumbnails. Larger ones are refused after reading only their
	// header, so that a small file declaring a huge image (a decompression
	// bomb) cannot make the server allocate gigabytes.
	MaxThumbnailPixels = 50_000_000
	// maxConcurrentDecodes bounds the images decoded at once, and
	// largeImagePixels marks an image that is decoded alone (a decoded
	// image takes 1.5 to 8 bytes per pixel: up to 400 MB at the limit).
	maxConcurrentDecodes = 2
	largeImagePixels     = 16_000_000
	// jpegQuality is the quality of JPEG thumbnails.
	jpegQuality = 85
)

// Thumbnail methods.
const (
	MethodScale = "scale"
	MethodCrop  = "crop"
)

// errNotImage is returned for content that no registered decoder reads.
var errNotImage = mxerr.Unknown("cannot generate thumbnails for this content")

// probe reads the header of an image: its size and format ("jpeg", "png",
// "gif" or "webp"). Content that is no such image gives errNotImage, an
// image over MaxThumbnailPixels M_TOO_LARGE.
func probe(r io.Reader) (image.Config, string, error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return image.Config{}, "", errNotImage
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxThumbnailPixels {
		return image.Config{}, "", mxerr.TooLarge("image is too large to thumbnail (%dx%d)", cfg.Width, cfg.Height)
	}
	return cfg, format, nil
}

// decode decodes an image whose header probe accepted. A decoder that
// panics on hostile input gives an error instead of taking the server
// down.
func decode(r io.Reader) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("image decoder panicked: %v", p)
		}
	}()
	img, _, err = image.Decode(bufio.NewReader(r))
	if err != nil {
		return nil, errNotImage
	}
	return img, nil
}

// box is a width and height in pixels.
type box struct{ w, h int }

// plan returns the size of the thumbnail of an image of size img for the
// requested size and method, and whether the image itself fits (is no
// larger than asked): then no thumbnail is made. Images are never scaled
// up.
//
// scale keeps the aspect ratio and fits the image within the box, so one
// side may come out shorter than asked. crop returns the box's aspect
// ratio, as large as asked or, for an image smaller than the box, as large
// as the image allows.
func plan(img, want box, method string) (out box, original bool) {
	if method == MethodCrop {
		s := min(1, float64(img.w)/float64(want.w), float64(img.h)/float64(want.h))
		out = box{max(1, round(float64(want.w)*s)), max(1, round(float64(want.h)*s))}
		return out, out == img
	}
	s := min(float64(want.w)/float64(img.w), float64(want.h)/float64(img.h))
	if s >= 1 {
		return img, true
	}
	return box{max(1, round(float64(img.w)*s)), max(1, round(float64(img.h)*s))}, false
}

func round(f float64) int { return int(f + 0.5) }

// resize makes the thumbnail of src at size out: scaled whole for scale,
// scaled to cover out and cut to its centre for crop.
func resize(src image.Image, out box, method string) image.Image {
	b := src.Bounds()
	from := b
	if method == MethodCrop {
		// The largest centred part of src with the aspect ratio of out.
		w, h := b.Dx(), b.Dy()
		if int64(w)*int64(out.h) > int64(h)*int64(out.w) {
			w = max(1, round(float64(h)*float64(out.w)/float64(out.h)))
		} else {
			h = max(1, round(float64(w)*float64(out.h)/float64(out.w)))
		}
		x0, y0 := b.Min.X+(b.Dx()-w)/2, b.Min.Y+(b.Dy()-h)/2
		from = image.Rect(x0, y0, x0+w, y0+h)
	}
	// Transform rather than Scale: Scale's two passes keep a float buffer
	// of out.w x from.Dy() pixels (32 bytes each: over a gigabyte for a
	// 50-megapixel image scaled a little), Transform needs only dst. It
	// widens the kernel when shrinking, so the result is filtered alike.
	sx, sy := float64(out.w)/float64(from.Dx()), float64(out.h)/float64(from.Dy())
	s2d := f64.Aff3{sx, 0, -float64(from.Min.X) * sx, 0, sy, -float64(from.Min.Y) * sy}
	dst := image.NewRGBA(image.Rect(0, 0, out.w, out.h))
	draw.BiLinear.Transform(dst, s2d, src, from, draw.Src, nil)
	return dst
}

// encode writes a thumbnail: JPEG for JPEG sources, PNG (which keeps
// transparency) for the others. It returns the content type.
func encode(w io.Writer, img image.Image, sourceFormat string) (string, error) {
	if sourceFormat == "jpeg" {
		return "image/jpeg", jpeg.Encode(w, img, &jpeg.Options{Quality: jpegQuality})
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return "image/png", enc.Encode(w, img)
}

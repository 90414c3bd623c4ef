package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

const (
	testServer = "test.local"
	alice      = "@alice:test.local"
	bob        = "@bob:test.local"
)

// testRepo is a media repository on a fresh database of each dialect.
type testRepo struct {
	*Media
	clock *storagetest.Clock
}

// eachRepo runs fn per dialect with a repository whose config configure
// (may be nil) adjusted.
func eachRepo(t *testing.T, configure func(cfg *Config), fn func(t *testing.T, r *testRepo)) {
	t.Helper()
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		fn(t, mustRepo(t, db, clock, configure))
	})
}

func mustRepo(t *testing.T, db *storage.DB, clock *storagetest.Clock, configure func(cfg *Config)) *testRepo {
	t.Helper()
	cfg := Config{ServerName: testServer, Media: config.Media{Directory: t.TempDir(), MaxUploadBytes: 1 << 20}}
	if configure != nil {
		configure(&cfg)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.AddHook(testLogHook{t})
	m, err := New(cfg, Deps{DB: db, Log: log})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testRepo{Media: m, clock: clock}
}

// run runs the repository's background work until the test ends.
func (r *testRepo) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = r.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// testLogHook fails the test on logged errors and warnings.
type testLogHook struct{ t *testing.T }

func (h testLogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h testLogHook) Fire(e *logrus.Entry) error {
	if e.Level <= logrus.WarnLevel {
		h.t.Errorf("media log: %s: %s %v", e.Level, e.Message, e.Data)
	}
	return nil
}

// mustUpload uploads data as the user and returns the media id.
func (r *testRepo) mustUpload(t *testing.T, user, contentType string, data []byte) string {
	t.Helper()
	uri, err := r.Upload(t.Context(), Upload{
		Body: bytes.NewReader(data), ContentLength: int64(len(data)), ContentType: contentType, Uploader: user,
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	_, id, err := ParseMXC(uri)
	if err != nil {
		t.Fatalf("upload returned %q: %v", uri, err)
	}
	return id
}

// mustRead opens media and returns its content and type.
func (r *testRepo) mustRead(t *testing.T, mediaID string) ([]byte, *File) {
	t.Helper()
	f, err := r.Open(t.Context(), testServer, mediaID, 0)
	if err != nil {
		t.Fatalf("open %s: %v", mediaID, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return data, f
}

// contentFiles lists the content files under the media directory (not
// temporary ones).
func (r *testRepo) contentFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(r.cfg.Directory, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "tmp" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tempFiles lists the temporary files left in the media directory.
func (r *testRepo) tempFiles(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(r.cfg.Directory, "tmp", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

// wantErrcode fails unless err is a Matrix error with the status and code.
func wantErrcode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var mx *mxerr.Error
	if !errors.As(err, &mx) || mx.Status != status || mx.Code != code {
		t.Errorf("got error %v, want %d %s", err, status, code)
	}
}

// testImage is a w x h image with a gradient, so that scaling has
// something to do.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

// encodeImage encodes a w x h test image as format: jpeg, png, gif or
// webp (a solid colour: see solidWebP).
func encodeImage(t testing.TB, format string, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "jpeg":
		err = jpeg.Encode(&buf, testImage(w, h), nil)
	case "png":
		err = png.Encode(&buf, testImage(w, h))
	case "gif":
		err = gif.Encode(&buf, testImage(w, h), nil)
	case "webp":
		return solidWebP(w, h, 10, 200, 30, 255)
	default:
		t.Fatalf("unknown format %s", format)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// solidWebP encodes a lossless WebP (VP8L) image of one colour. The
// standard library and x/image have no WebP encoder; a one-colour image
// needs none: each of its five prefix codes is a "simple code" of one
// symbol, which takes zero bits per pixel, so the pixel data is empty.
func solidWebP(w, h int, r, g, b, a byte) []byte {
	var bits bitWriter
	bits.write(0x2f, 8) // VP8L signature
	bits.write(uint64(w-1), 14)
	bits.write(uint64(h-1), 14)
	bits.write(1, 1) // alpha is used
	bits.write(0, 3) // version 0
	bits.write(0, 1) // no transforms
	bits.write(0, 1) // no colour cache
	bits.write(0, 1) // no meta prefix codes
	for _, symbol := range []byte{g, r, b, a} {
		bits.write(1, 1) // simple code
		bits.write(0, 1) // one symbol
		bits.write(1, 1) // of 8 bits
		bits.write(uint64(symbol), 8)
	}
	bits.write(0b0001, 4) // distance code: simple, one symbol, 1 bit, symbol 0
	data := bits.bytes()
	var out bytes.Buffer
	pad := len(data) % 2
	out.WriteString("RIFF")
	_ = binary.Write(&out, binary.LittleEndian, uint32(4+8+len(data)+pad))
	out.WriteString("WEBPVP8L")
	_ = binary.Write(&out, binary.LittleEndian, uint32(len(data)))
	out.Write(data)
	out.Write(make([]byte, pad))
	return out.Bytes()
}

// bitWriter writes bits least significant first, as VP8L reads them.
type bitWriter struct {
	buf   []byte
	acc   uint64
	nbits uint
}

func (w *bitWriter) write(v uint64, n uint) {
	w.acc |= v << w.nbits
	w.nbits += n
	for w.nbits >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

func (w *bitWriter) bytes() []byte {
	if w.nbits > 0 {
		w.buf = append(w.buf, byte(w.acc))
	}
	return w.buf
}

// hugePNG is a small file whose header declares a w x h PNG (a
// decompression bomb: decoding it would allocate w*h*3 bytes).
func hugePNG(w, h uint32) []byte {
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&out, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		out.Write(body)
		_ = binary.Write(&out, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit RGB, no interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return out.Bytes()
}

// decodeThumb decodes a thumbnail and returns its size and format.
func decodeThumb(t *testing.T, f *File) (box, string) {
	t.Helper()
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode thumbnail: %v", err)
	}
	if want := "image/" + format; f.ContentType != want {
		t.Errorf("content type: got %s, want %s", f.ContentType, want)
	}
	return box{img.Bounds().Dx(), img.Bounds().Dy()}, format
}

func (b box) String() string { return fmt.Sprintf("%dx%d", b.w, b.h) }

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

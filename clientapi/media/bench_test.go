package media

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// benchRepo is a repository on SQLite for benchmarks.
func benchRepo(b *testing.B, maxUpload int64) *Media {
	b.Helper()
	db := storagetest.Open(b, storagetest.URL(b, "sqlite"))
	log := logrus.New()
	log.SetOutput(io.Discard)
	m, err := New(Config{ServerName: testServer, Media: config.Media{Directory: b.TempDir(), MaxUploadBytes: maxUpload}},
		Deps{DB: db, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkMedia_UploadDownload stores and reads back 100 MiB. B/op shows
// that memory does not grow with the file: both directions stream.
func BenchmarkMedia_UploadDownload(b *testing.B) {
	const size = 100 << 20
	m := benchRepo(b, size)
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		uri, err := m.Upload(ctx, Upload{Body: io.LimitReader(zeros{}, size), ContentLength: size, Uploader: alice})
		if err != nil {
			b.Fatal(err)
		}
		_, id, _ := ParseMXC(uri)
		f, err := m.Open(ctx, testServer, id, 0)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, f); n != size || err != nil {
			b.Fatalf("read %d bytes (%v)", n, err)
		}
		f.Close()
	}
}

// BenchmarkMedia_CommonThumbnails makes the five common thumbnails of a
// 12-megapixel JPEG (one decode), as after an upload.
func BenchmarkMedia_CommonThumbnails(b *testing.B) {
	m := benchRepo(b, 50<<20)
	ctx := context.Background()
	photo := encodeImage(b, "jpeg", 4000, 3000)
	b.ReportAllocs()
	for b.Loop() {
		uri, err := m.Upload(ctx, Upload{Body: bytes.NewReader(photo), ContentLength: int64(len(photo)), ContentType: "image/jpeg", Uploader: alice})
		if err != nil {
			b.Fatal(err)
		}
		meta := <-m.thumbJobs
		m.makeCommonThumbnails(ctx, meta)
		if err := m.Delete(ctx, testServer, meta.MediaID); err != nil { // so that the next upload makes them again
			b.Fatal(err, uri)
		}
	}
}

// BenchmarkMedia_Thumbnail makes one on-demand thumbnail (96x96 crop)
// of a 2-megapixel PNG, uncached.
func BenchmarkMedia_Thumbnail(b *testing.B) {
	m := benchRepo(b, 50<<20)
	ctx := context.Background()
	img := encodeImage(b, "png", 1600, 1200)
	b.ReportAllocs()
	for b.Loop() {
		uri, err := m.Upload(ctx, Upload{Body: bytes.NewReader(img), ContentLength: int64(len(img)), ContentType: "image/png", Uploader: alice})
		if err != nil {
			b.Fatal(err)
		}
		<-m.thumbJobs // not made in the background here
		_, id, _ := ParseMXC(uri)
		f, err := m.Thumbnail(ctx, testServer, id, ThumbnailRequest{Width: 96, Height: 96, Method: MethodCrop}, 0)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		if err := m.Delete(ctx, testServer, id); err != nil {
			b.Fatal(err)
		}
	}
}

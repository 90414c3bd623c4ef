package main

import (
	"context"
	"io"
	"runtime"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// BenchmarkMediaHTTP uploads a 100 MiB file through POST /upload and
// downloads it through the authenticated download endpoint, client and
// server in this process. B/op and the peak-heap metric stay small and
// flat however large the file: both directions are streamed. Each
// iteration's content differs, so none is deduplicated.
func BenchmarkMediaHTTP(b *testing.B) {
	const size = 100 << 20
	srv := benchServer(b, "sqlite", false, func(cfg *config.Config) { cfg.Media.MaxUploadBytes = size })
	cli := mustRegister(b, srv.URL, "uploader", "bench password")
	ctx := context.Background()
	var peak uint64
	b.SetBytes(2 * size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		up, err := cli.UploadMedia(ctx, mautrix.ReqUploadMedia{
			Content: io.LimitReader(&byteStream{n: i}, size), ContentLength: size, ContentType: "application/octet-stream",
		})
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, heapInUse())
		if n := mustDownloadSize(b, cli, up.ContentURI); n != size {
			b.Fatalf("download: got %d bytes, want %d", n, size)
		}
		peak = max(peak, heapInUse())
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

func mustDownloadSize(b *testing.B, cli *mautrix.Client, uri id.ContentURI) int64 {
	res, err := cli.Download(context.Background(), uri)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

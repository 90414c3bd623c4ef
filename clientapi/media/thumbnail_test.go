package media

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestMedia_Thumbnail(t *testing.T) {
	eachRepo(t, func(cfg *Config) { cfg.MaxUploadBytes = 10 << 20 }, func(t *testing.T, r *testRepo) {
		ctx := t.Context()
		for _, format := range []string{"jpeg", "png", "gif", "webp"} {
			t.Run(format, func(t *testing.T) {
				id := r.mustUpload(t, alice, "image/"+format, encodeImage(t, format, 400, 300))
				thumbFormat, origFormat := "png", format // thumbnails of GIFs are their first frame as PNG
				if format == "jpeg" {
					thumbFormat = "jpeg"
				}
				if format == "gif" {
					origFormat = "png"
				}
				for _, tc := range []struct {
					req      ThumbnailRequest
					want     box
					original bool
				}{
					{ThumbnailRequest{Width: 32, Height: 32, Method: MethodCrop}, box{32, 32}, false},
					{ThumbnailRequest{Width: 96, Height: 96, Method: MethodCrop}, box{96, 96}, false},
					{ThumbnailRequest{Width: 50, Height: 50, Method: MethodCrop}, box{96, 96}, false},     // a common size that satisfies
					{ThumbnailRequest{Width: 200, Height: 100, Method: MethodCrop}, box{200, 100}, false}, // made for the request
					{ThumbnailRequest{Width: 320, Height: 240, Method: MethodScale}, box{320, 240}, false},
					{ThumbnailRequest{Width: 100, Height: 100, Method: MethodScale}, box{320, 240}, false},
					{ThumbnailRequest{Width: 1000, Height: 80, Method: MethodScale}, box{107, 80}, false},
					{ThumbnailRequest{Width: 390, Height: 200, Method: MethodScale}, box{400, 300}, true}, // 640x480 would be larger than the image
				} {
					f, err := r.Thumbnail(ctx, testServer, id, tc.req, 0)
					if err != nil {
						t.Fatalf("%+v: %v", tc.req, err)
					}
					got, gotFormat := decodeThumb(t, f)
					wantFormat := thumbFormat
					if tc.original {
						wantFormat = origFormat
					}
					if got != tc.want || gotFormat != wantFormat {
						t.Errorf("%+v: got %v %s, want %v %s", tc.req, got, gotFormat, tc.want, wantFormat)
					}
				}
			})
			t.Run(format+"/NoUpscale", func(t *testing.T) {
				id := r.mustUpload(t, alice, "image/"+format, encodeImage(t, format, 40, 30))
				f, err := r.Thumbnail(ctx, testServer, id, ThumbnailRequest{Width: 800, Height: 600, Method: MethodScale}, 0)
				if err != nil {
					t.Fatal(err)
				}
				got, gotFormat := decodeThumb(t, f)
				// A small image is returned itself; a GIF as its first
				// frame, since animation was not asked for.
				wantFormat := format
				if format == "gif" {
					wantFormat = "png"
				}
				if got != (box{40, 30}) || gotFormat != wantFormat {
					t.Errorf("got %v %s, want the original 40x30 %s", got, gotFormat, wantFormat)
				}
			})
		}
		t.Run("Cached", func(t *testing.T) {
			id := r.mustUpload(t, alice, "image/png", encodeImage(t, "png", 300, 300))
			req := ThumbnailRequest{Width: 96, Height: 96, Method: MethodCrop}
			first, err := r.Thumbnail(ctx, testServer, id, req, 0)
			if err != nil {
				t.Fatal(err)
			}
			first.Close()
			second, err := r.Thumbnail(ctx, testServer, id, req, 0)
			if err != nil {
				t.Fatal(err)
			}
			second.Close()
			n, err := r.db.CountThumbnails(ctx, testServer, id)
			if err != nil || n != 1 || first.Hash != second.Hash {
				t.Errorf("got %d stored (%v), hashes %s and %s, want one stored and served twice", n, err, first.Hash, second.Hash)
			}
		})
		t.Run("ErrNotImage", func(t *testing.T) {
			for _, ct := range []string{"text/plain", "image/png"} {
				id := r.mustUpload(t, alice, ct, []byte("this is not an image"))
				_, err := r.Thumbnail(ctx, testServer, id, ThumbnailRequest{Width: 32, Height: 32, Method: MethodCrop}, 0)
				wantErrcode(t, err, http.StatusBadRequest, "M_UNKNOWN")
			}
		})
		t.Run("ErrDecompressionBomb", func(t *testing.T) {
			bomb := hugePNG(50_000, 50_000)
			if len(bomb) > 100 {
				t.Fatalf("bomb is %d bytes, want a tiny file", len(bomb))
			}
			id := r.mustUpload(t, alice, "image/png", bomb)
			_, err := r.Thumbnail(ctx, testServer, id, ThumbnailRequest{Width: 32, Height: 32, Method: MethodCrop}, 0)
			wantErrcode(t, err, http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
		})
		t.Run("ErrNotYetUploaded", func(t *testing.T) {
			uri, _, err := r.Create(ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			_, id, _ := ParseMXC(uri)
			_, err = r.Thumbnail(ctx, testServer, id, ThumbnailRequest{Width: 32, Height: 32, Method: MethodCrop}, 0)
			wantErrcode(t, err, http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED")
		})
	})
}

// TestMedia_CommonThumbnails: Run makes the spec's common sizes of an
// uploaded image, and none for other content or decompression bombs.
func TestMedia_CommonThumbnails(t *testing.T) {
	eachRepo(t, nil, func(t *testing.T, r *testRepo) {
		r.run(t)
		ctx := t.Context()
		img := r.mustUpload(t, alice, "image/jpeg", encodeImage(t, "jpeg", 1024, 768))
		small := r.mustUpload(t, alice, "image/png", encodeImage(t, "png", 64, 64))
		bomb := r.mustUpload(t, alice, "image/png", hugePNG(50_000, 50_000))
		waitFor(t, func() bool {
			n, err := r.db.CountThumbnails(ctx, testServer, img)
			return err == nil && n == len(CommonSizes)
		})
		for _, spec := range CommonSizes { // made from the largest, each is the size asked for
			f, err := r.Thumbnail(ctx, testServer, img, ThumbnailRequest{Width: spec.w, Height: spec.h, Method: spec.method}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got, format := decodeThumb(t, f); got != spec.box || format != "jpeg" {
				t.Errorf("%v %s: got %v %s, want %v jpeg", spec.box, spec.method, got, format, spec.box)
			}
		}
		if n, err := r.db.CountThumbnails(ctx, testServer, img); err != nil || n != len(CommonSizes) {
			t.Errorf("thumbnails after requests: got %d (%v), want still %d", n, err, len(CommonSizes))
		}
		// The queue is processed in order: once the bomb's turn is over,
		// the small image's was too.
		waitFor(t, func() bool { return len(r.thumbJobs) == 0 })
		for id, want := range map[string]int{small: 1, bomb: 0} { // 64x64: only 32x32 crop is smaller
			if n, err := r.db.CountThumbnails(ctx, testServer, id); err != nil || n != want {
				t.Errorf("thumbnails of %s: got %d (%v), want %d", id, n, err, want)
			}
		}
	})
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		img, want box
		method    string
		out       box
		original  bool
	}{
		{box{400, 300}, box{320, 240}, MethodScale, box{320, 240}, false},
		{box{400, 300}, box{100, 100}, MethodScale, box{100, 75}, false},
		{box{300, 400}, box{100, 100}, MethodScale, box{75, 100}, false},
		{box{400, 300}, box{400, 300}, MethodScale, box{400, 300}, true},
		{box{400, 300}, box{800, 600}, MethodScale, box{400, 300}, true},
		{box{400, 300}, box{32, 32}, MethodCrop, box{32, 32}, false},
		{box{400, 300}, box{800, 600}, MethodCrop, box{400, 300}, true},
		{box{400, 300}, box{600, 600}, MethodCrop, box{300, 300}, false}, // never upscaled, aspect kept
		{box{20, 20}, box{32, 32}, MethodCrop, box{20, 20}, true},
		{box{1, 10000}, box{32, 32}, MethodScale, box{1, 32}, false},
	} {
		out, original := plan(tc.img, tc.want, tc.method)
		if out != tc.out || original != tc.original {
			t.Errorf("plan(%v, %v, %s): got %v %v, want %v %v", tc.img, tc.want, tc.method, out, original, tc.out, tc.original)
		}
	}
}

func TestParseThumbnailRequest(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		got, err := ParseThumbnailRequest(url.Values{"width": {"64"}, "height": {"48"}, "method": {"crop"}, "animated": {"true"}})
		want := ThumbnailRequest{Width: 64, Height: 48, Method: MethodCrop, Animated: true}
		if err != nil || got != want {
			t.Errorf("got %+v (%v), want %+v", got, err, want)
		}
		got, err = ParseThumbnailRequest(url.Values{"width": {"64"}, "height": {"99999999"}})
		want = ThumbnailRequest{Width: 64, Height: maxThumbnailSide, Method: MethodScale}
		if err != nil || got != want {
			t.Errorf("defaults: got %+v (%v), want %+v", got, err, want)
		}
	})
	for name, q := range map[string]url.Values{
		"ErrNoWidth":  {"height": {"1"}},
		"ErrNegative": {"width": {"-1"}, "height": {"1"}},
		"ErrZero":     {"width": {"0"}, "height": {"1"}},
		"ErrNotInt":   {"width": {"1.5"}, "height": {"1"}},
		"ErrMethod":   {"width": {"1"}, "height": {"1"}, "method": {"stretch"}},
		"ErrAnimated": {"width": {"1"}, "height": {"1"}, "animated": {"yes"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseThumbnailRequest(q); err == nil {
				t.Errorf("%v: got no error, want M_MISSING_PARAM or M_INVALID_PARAM", q)
			}
		})
	}
}

func TestMedia_AcquireDecode(t *testing.T) {
	eachRepo(t, nil, func(t *testing.T, r *testRepo) {
		release, err := r.acquireDecode(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("ErrLargeWaitsForAll", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			if _, err := r.acquireDecode(ctx, maxConcurrentDecodes); err == nil {
				t.Fatal("large decode while another runs: got a place, want to wait")
			}
			if got := len(r.decodes); got != 1 {
				t.Errorf("places taken after giving up: got %d, want 1", got)
			}
		})
		release()
		t.Run("OK", func(t *testing.T) {
			release, err := r.acquireDecode(t.Context(), maxConcurrentDecodes)
			if err != nil {
				t.Fatal(err)
			}
			release()
			if got := len(r.decodes); got != 0 {
				t.Errorf("places taken after release: got %d, want 0", got)
			}
		})
	})
}

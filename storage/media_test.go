package storage_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func mustInsertMedia(t *testing.T, db *storage.DB, m storage.Media) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.InsertMedia(ctx, m) })
}

func mustInsertThumbnail(t *testing.T, db *storage.DB, th storage.Thumbnail) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.InsertThumbnail(ctx, th) })
}

func TestDB_Media(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		up := storage.Media{
			Server: "test.local", MediaID: "abc", ContentHash: "h1", ContentType: "image/png",
			Filename: "a.png", Size: 10, Uploader: "@alice:test.local", CreatedTS: 1000,
		}
		mustInsertMedia(t, db, up)
		t.Run("OK", func(t *testing.T) {
			got, err := db.Media(ctx, "test.local", "abc")
			if err != nil || got != up {
				t.Errorf("got %+v (%v), want %+v", got, err, up)
			}
		})
		t.Run("ErrExists", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.InsertMedia(ctx, up) })
			if !errors.Is(err, storage.ErrExists) {
				t.Errorf("got %v, want ErrExists", err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			if _, err := db.Media(ctx, "other.example", "abc"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
		t.Run("Usage", func(t *testing.T) {
			mustInsertMedia(t, db, storage.Media{Server: "test.local", MediaID: "def", ContentHash: "h1", Size: 10, Uploader: "@alice:test.local"})
			used, err := db.MediaUsage(ctx, "@alice:test.local")
			if err != nil || used != 20 {
				t.Errorf("usage: got %d (%v), want 20", used, err)
			}
			if used, err := db.MediaUsage(ctx, "@bob:test.local"); err != nil || used != 0 {
				t.Errorf("usage of bob: got %d (%v), want 0", used, err)
			}
		})
	})
}

func TestDB_FillMedia(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		reserved := storage.Media{Server: "test.local", MediaID: "r1", Uploader: "@alice:test.local", CreatedTS: 1, ExpiresTS: 5000}
		mustInsertMedia(t, db, reserved)
		if n, err := db.PendingMedia(ctx, "@alice:test.local", 4000); err != nil || n != 1 {
			t.Errorf("pending: got %d (%v), want 1", n, err)
		}
		if n, err := db.PendingMedia(ctx, "@alice:test.local", 5000); err != nil || n != 0 {
			t.Errorf("pending after expiry: got %d (%v), want 0", n, err)
		}
		filled := reserved
		filled.ContentHash, filled.ContentType, filled.Size = "h2", "text/plain", 3
		fill := func() error {
			return inTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.FillMedia(ctx, filled) })
		}
		t.Run("OK", func(t *testing.T) {
			if err := fill(); err != nil {
				t.Fatal(err)
			}
			got, err := db.Media(ctx, "test.local", "r1")
			want := filled
			want.ExpiresTS = 0
			if err != nil || got != want || !got.Uploaded() {
				t.Errorf("got %+v (%v), want %+v", got, err, want)
			}
		})
		t.Run("ErrExists", func(t *testing.T) {
			if err := fill(); !errors.Is(err, storage.ErrExists) {
				t.Errorf("second fill: got %v, want ErrExists", err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			filled.MediaID = "nope"
			if err := fill(); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
		t.Run("DeleteExpired", func(t *testing.T) {
			mustInsertMedia(t, db, storage.Media{Server: "test.local", MediaID: "r2", Uploader: "@alice:test.local", ExpiresTS: 100})
			var n int64
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				var err error
				n, err = tx.DeleteExpiredMedia(ctx, 200)
				return err
			})
			if n != 1 {
				t.Errorf("deleted: got %d, want 1 (only r2)", n)
			}
			if _, err := db.Media(ctx, "test.local", "r1"); err != nil {
				t.Errorf("uploaded r1: got %v, want it kept", err)
			}
		})
	})
}

func TestDB_DeleteMedia(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		for _, id := range []string{"a", "b"} {
			mustInsertMedia(t, db, storage.Media{Server: "test.local", MediaID: id, ContentHash: "shared", Size: 1})
		}
		mustInsertThumbnail(t, db, storage.Thumbnail{Server: "test.local", MediaID: "a", Width: 32, Height: 32, Method: "crop", ContentHash: "thumb-a"})
		mustInsertThumbnail(t, db, storage.Thumbnail{Server: "test.local", MediaID: "b", Width: 32, Height: 32, Method: "crop", ContentHash: "thumb-b"})
		del := func(id string) ([]string, error) {
			var orphans []string
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				var err error
				orphans, err = tx.DeleteMedia(ctx, "test.local", id)
				return err
			})
			slices.Sort(orphans)
			return orphans, err
		}
		t.Run("SharedContentKept", func(t *testing.T) {
			orphans, err := del("a")
			if err != nil || !slices.Equal(orphans, []string{"thumb-a"}) {
				t.Errorf("got %q (%v), want only thumb-a unreferenced", orphans, err)
			}
			if n, err := db.CountThumbnails(ctx, "test.local", "a"); err != nil || n != 0 {
				t.Errorf("thumbnails of a: got %d (%v), want 0", n, err)
			}
		})
		t.Run("LastReference", func(t *testing.T) {
			orphans, err := del("b")
			if err != nil || !slices.Equal(orphans, []string{"shared", "thumb-b"}) {
				t.Errorf("got %q (%v), want shared and thumb-b", orphans, err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			if _, err := del("b"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestDB_Thumbnails(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustInsertMedia(t, db, storage.Media{Server: "test.local", MediaID: "m", ContentHash: "h"})
		th := storage.Thumbnail{Server: "test.local", MediaID: "m", Width: 96, Height: 96, Method: "crop",
			ContentHash: "t1", ContentType: "image/png", Size: 5, CreatedTS: 7}
		mustInsertThumbnail(t, db, th)
		t.Run("SecondKeepsFirst", func(t *testing.T) {
			other := th
			other.ContentHash = "t2"
			mustInsertThumbnail(t, db, other)
			got, err := db.Thumbnails(ctx, "test.local", "m")
			if err != nil || len(got) != 1 || got[0] != th {
				t.Errorf("got %+v (%v), want only %+v", got, err, th)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			other := th
			other.MediaID = "gone"
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.InsertThumbnail(ctx, other) })
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("thumbnail of missing media: got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestDB_URLPreview(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		if _, _, err := db.URLPreview(ctx, "https://example.org/"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("empty cache: got %v, want ErrNotFound", err)
		}
		for _, v := range []string{`{"og:title":"one"}`, `{"og:title":"two"}`} {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.PutURLPreview(ctx, "https://example.org/", v, time.Unix(100, 0).UnixMilli())
			})
		}
		got, ts, err := db.URLPreview(ctx, "https://example.org/")
		if err != nil || got != `{"og:title":"two"}` || ts != 100000 {
			t.Errorf("got %s at %d (%v), want the second at 100000", got, ts, err)
		}
		var n int64
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			var err error
			n, err = tx.DeleteURLPreviewsBefore(ctx, 100001)
			return err
		})
		if n != 1 {
			t.Errorf("deleted: got %d, want 1", n)
		}
	})
}

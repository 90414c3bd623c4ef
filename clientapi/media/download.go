package media

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// File is stored content opened for reading, with what the response
// headers need. The caller closes it.
type File struct {
	*os.File
	ContentType string
	Filename    string
	Hash        string
	Size        int64
	Modified    time.Time
}

// Download wait limits (the spec's timeout_ms).
const (
	DefaultWait = 20 * time.Second
	MaxWait     = 60 * time.Second
	// pollInterval is how often a waiting download looks at the database,
	// for uploads finished by another process.
	pollInterval = time.Second
)

// Open opens the content of a media item. For an id reserved but not yet
// uploaded it waits up to wait for the upload, then answers 504
// M_NOT_YET_UPLOADED. Unknown and remote media give M_NOT_FOUND.
func (m *Media) Open(ctx context.Context, server, mediaID string, wait time.Duration) (*File, error) {
	meta, err := m.lookup(ctx, server, mediaID, wait)
	if err != nil {
		return nil, err
	}
	return m.openContent(meta)
}

// lookup returns the metadata of uploaded local media, waiting up to wait
// for an asynchronous upload.
func (m *Media) lookup(ctx context.Context, server, mediaID string, wait time.Duration) (storage.Media, error) {
	if err := m.checkLocal(server, mediaID); err != nil {
		return storage.Media{}, err
	}
	deadline := time.Now().Add(min(max(wait, 0), MaxWait))
	for {
		meta, err := m.uploadedMedia(ctx, server, mediaID)
		if err != nil || meta.Uploaded() {
			return meta, err
		}
		woken, done := m.uploads.add(server, mediaID)
		// Look again: the upload may have finished before add.
		if meta, err = m.uploadedMedia(ctx, server, mediaID); err != nil || meta.Uploaded() {
			done()
			return meta, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			done()
			return storage.Media{}, mxerr.New(http.StatusGatewayTimeout, "M_NOT_YET_UPLOADED", "content has not yet been uploaded")
		}
		timer := time.NewTimer(min(left, pollInterval))
		select {
		case <-ctx.Done():
		case <-woken:
		case <-timer.C:
		}
		timer.Stop()
		done()
		if ctx.Err() != nil {
			return storage.Media{}, ctx.Err()
		}
	}
}

// uploadedMedia returns the media's metadata, uploaded or a reservation
// still open; a lapsed or unknown one gives M_NOT_FOUND.
func (m *Media) uploadedMedia(ctx context.Context, server, mediaID string) (storage.Media, error) {
	meta, err := m.db.Media(ctx, server, mediaID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return storage.Media{}, notFound()
	case err != nil:
		return storage.Media{}, errorf(server, mediaID, "look up", err)
	case !meta.Uploaded() && meta.ExpiresTS <= m.db.Now().UnixMilli():
		return storage.Media{}, notFound()
	}
	return meta, nil
}

// openContent opens the file of uploaded media.
func (m *Media) openContent(meta storage.Media) (*File, error) {
	f, err := m.files.open(meta.ContentHash)
	if err != nil {
		return nil, errorf(meta.Server, meta.MediaID, "open content of", err)
	}
	return &File{
		File: f, ContentType: meta.ContentType, Filename: meta.Filename, Hash: meta.ContentHash,
		Size: meta.Size, Modified: time.UnixMilli(meta.CreatedTS),
	}, nil
}

// waiters wakes downloads that wait for an asynchronous upload in this
// process.
type waiters struct {
	mu      sync.Mutex
	waiting map[string]*waiting
}

type waiting struct {
	ch    chan struct{}
	count int
}

func newWaiters() *waiters { return &waiters{waiting: map[string]*waiting{}} }

// add returns a channel closed when the media is next uploaded, and the
// function to call when no longer waiting.
func (w *waiters) add(server, mediaID string) (woken <-chan struct{}, done func()) {
	key := server + "/" + mediaID
	w.mu.Lock()
	defer w.mu.Unlock()
	wt := w.waiting[key]
	if wt == nil {
		wt = &waiting{ch: make(chan struct{})}
		w.waiting[key] = wt
	}
	wt.count++
	return wt.ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if wt.count--; wt.count == 0 && w.waiting[key] == wt {
			delete(w.waiting, key)
		}
	}
}

// wake wakes every waiter of the media.
func (w *waiters) wake(server, mediaID string) {
	key := server + "/" + mediaID
	w.mu.Lock()
	defer w.mu.Unlock()
	if wt := w.waiting[key]; wt != nil {
		close(wt.ch)
		delete(w.waiting, key)
	}
}

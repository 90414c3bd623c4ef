package media

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// fileStore keeps files under a directory by the hex SHA-256 of their
// content: dir/ab/cd/abcd... New content is written to dir/tmp first and
// moved into place once complete, so a file under its hash is always whole.
type fileStore struct {
	dir string
	tmp string
}

// staleTempAge is how old a leftover temporary file (from a crash or a
// killed process) must be before newFileStore removes it.
const staleTempAge = 24 * time.Hour

// errTooLarge is returned by receive when the content exceeds its limit.
var errTooLarge = errors.New("content exceeds the size limit")

func newFileStore(dir string) (*fileStore, error) {
	s := &fileStore{dir: dir, tmp: filepath.Join(dir, "tmp")}
	if err := os.MkdirAll(s.tmp, 0o750); err != nil {
		return nil, fmt.Errorf("create media directory: %w", err)
	}
	s.removeStaleTemp()
	return s, nil
}

// removeStaleTemp removes temporary files older than staleTempAge; younger
// ones may belong to uploads in progress in another process.
func (s *fileStore) removeStaleTemp() {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTempAge {
			_ = os.Remove(filepath.Join(s.tmp, e.Name()))
		}
	}
}

// path is where the file with the hash lives. The hash is always our own
// hex digest, never text from a request.
func (s *fileStore) path(hash string) string {
	return filepath.Join(s.dir, hash[0:2], hash[2:4], hash)
}

// open opens the file with the hash for reading.
func (s *fileStore) open(hash string) (*os.File, error) {
	return os.Open(s.path(hash))
}

// tempFile is received content waiting to be placed under its hash.
type tempFile struct {
	path string
	hash string
	size int64
}

// receive copies r into a new temporary file while hashing it, reading at
// most limit bytes: content longer than that gives errTooLarge. The copy
// goes through a small buffer, so memory does not depend on the size.
func (s *fileStore) receive(r io.Reader, limit int64) (*tempFile, error) {
	return s.write(func(w io.Writer) (int64, error) {
		n, err := io.Copy(w, io.LimitReader(r, limit+1))
		if err == nil && n > limit {
			err = errTooLarge
		}
		return n, err
	})
}

// write runs produce with a writer into a new temporary file that hashes
// what passes, and returns the file once complete and synced.
func (s *fileStore) write(produce func(w io.Writer) (int64, error)) (*tempFile, error) {
	f, err := os.CreateTemp(s.tmp, "upload-")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	t := &tempFile{path: f.Name()}
	h := sha256.New()
	n, err := produce(io.MultiWriter(f, h))
	if err == nil {
		err = f.Sync()
	}
	if closeErr := f.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("close temporary file: %w", closeErr)
	}
	if err != nil {
		t.discard()
		return nil, err
	}
	t.hash, t.size = hex.EncodeToString(h.Sum(nil)), n
	return t, nil
}

// discard removes the temporary file if it was not placed.
func (t *tempFile) discard() {
	if t != nil && t.path != "" {
		_ = os.Remove(t.path)
		t.path = ""
	}
}

// place moves the temporary file under its hash. If a whole file with that
// hash is there already, the temporary one is dropped and placed is false:
// the content is stored once. Call it with Media.refs held.
func (s *fileStore) place(t *tempFile) (placed bool, err error) {
	final := s.path(t.hash)
	if info, err := os.Stat(final); err == nil && info.Size() == t.size {
		t.discard()
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return false, fmt.Errorf("create media subdirectory: %w", err)
	}
	if err := os.Rename(t.path, final); err != nil {
		return false, fmt.Errorf("place media file: %w", err)
	}
	t.path = ""
	syncDir(filepath.Dir(final))
	return true, nil
}

// remove deletes the file with the hash; a missing file is no error. Call
// it with Media.refs held, after the last row naming the hash is gone.
func (s *fileStore) remove(hash string) error {
	if err := os.Remove(s.path(hash)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove media file: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable where the platform supports it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

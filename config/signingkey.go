package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SigningKey is the server's ed25519 key for signing events and federation
// requests. The file holds one line: "ed25519 <version> <unpadded base64
// seed>", the format other homeservers use too, so keys can move between
// them.
type SigningKey struct {
	ID  string // "ed25519:<version>"
	Key ed25519.PrivateKey
}

// LoadOrCreateSigningKey reads the key at path, or, if there is no file,
// generates a key and writes it atomically with mode 0600. created reports
// which happened.
func LoadOrCreateSigningKey(path string) (key SigningKey, created bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err = newSigningKey()
		if err != nil {
			return SigningKey{}, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return SigningKey{}, false, fmt.Errorf("create signing key directory: %w", err)
		}
		if err := WriteFileAtomic(path, []byte(key.encode()), 0o600); err != nil {
			return SigningKey{}, false, fmt.Errorf("write signing key: %w", err)
		}
		return key, true, nil
	}
	if err != nil {
		return SigningKey{}, false, fmt.Errorf("read signing key: %w", err)
	}
	key, err = parseSigningKey(string(data))
	if err != nil {
		return SigningKey{}, false, fmt.Errorf("signing key %s: %w", path, err)
	}
	return key, false, nil
}

func newSigningKey() (SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, err
	}
	version := make([]byte, 4)
	if _, err := rand.Read(version); err != nil {
		return SigningKey{}, err
	}
	return SigningKey{ID: "ed25519:" + base64.RawURLEncoding.EncodeToString(version), Key: priv}, nil
}

func (k SigningKey) encode() string {
	version := strings.TrimPrefix(k.ID, "ed25519:")
	return fmt.Sprintf("ed25519 %s %s\n", version, base64.RawStdEncoding.EncodeToString(k.Key.Seed()))
}

func parseSigningKey(s string) (SigningKey, error) {
	fields := strings.Fields(s)
	if len(fields) != 3 || fields[0] != "ed25519" {
		return SigningKey{}, errors.New(`want one line "ed25519 <version> <base64 seed>"`)
	}
	seed, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(fields[2], "="))
	if err != nil || len(seed) != ed25519.SeedSize {
		return SigningKey{}, errors.New("seed is not 32 bytes of base64")
	}
	return SigningKey{ID: "ed25519:" + fields[1], Key: ed25519.NewKeyFromSeed(seed)}, nil
}

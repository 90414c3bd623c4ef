package clientapi

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/ganglion/ganglion/config"
)

// Passwords hash and verify passwords with argon2id, encoded in the PHC
// string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash) so that hashes
// made with older parameters keep verifying after the config changes.
type Passwords struct {
	params config.Passwords
	// slots bounds the hashes computed at once: each takes the configured
	// memory, so unbounded concurrency would be unbounded memory.
	slots chan struct{}
	// dummy is verified against when an account has no hash, so that a
	// login for an unknown user takes as long as one with a wrong password.
	dummy string
}

// NewPasswords returns a hasher with the configured parameters.
func NewPasswords(params config.Passwords) (*Passwords, error) {
	// The dummy needs the real parameters but no real hash: random bytes
	// in the hash's place cost the same to check and never match.
	salt, key := make([]byte, 16), make([]byte, hashLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	p := &Passwords{params: params, slots: make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))}
	p.dummy = p.encode(salt, key)
	return p, nil
}

const hashLen = 32

// Hash returns the encoded argon2id hash of password with a new salt.
func (p *Passwords) Hash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	p.slots <- struct{}{}
	key := argon2.IDKey([]byte(password), salt, p.params.Iterations, p.params.MemoryKiB, p.params.Parallelism, hashLen)
	<-p.slots
	return p.encode(salt, key), nil
}

// encode writes a hash in the PHC string format with p's parameters.
func (p *Passwords) encode(salt, key []byte) string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.params.MemoryKiB, p.params.Iterations, p.params.Parallelism,
		enc.EncodeToString(salt), enc.EncodeToString(key))
}

// Verify reports whether password matches encoded. An empty encoded hash
// (an account without password login) never matches, after spending the
// same time as a real check.
func (p *Passwords) Verify(encoded, password string) bool {
	p.slots <- struct{}{}
	defer func() { <-p.slots }()
	if encoded == "" {
		_, _ = verifyArgon2id(p.dummy, password)
		return false
	}
	ok, err := verifyArgon2id(encoded, password)
	return err == nil && ok
}

var errBadHash = errors.New("malformed password hash")

func verifyArgon2id(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var (
		version  int
		mem, it  uint32
		parallel uint8
	)
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &it, &parallel); err != nil {
		return false, errBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, it, mem, parallel, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

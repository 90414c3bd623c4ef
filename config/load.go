package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load returns the configuration: Default, overridden by the YAML file at
// path (none if path is ""), overridden by the environment (see ApplyEnv),
// with derived defaults filled in (see Resolve) and validated. Options the
// file does not know are an error. Problems with environment values, secret
// files and validation are returned together, joined with errors.Join.
func Load(path string) (*Config, error) {
	return load(path, os.Environ())
}

func load(path string, environ []string) (*Config, error) {
	what := "load config"
	if path != "" {
		what += " " + path
	}
	c := Default()
	if path != "" {
		if err := c.readFile(path); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	envErr := c.ApplyEnv(environ)
	resolveErr := c.Resolve()
	if err := errors.Join(envErr, resolveErr, c.Validate()); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return c, nil
}

// readFile overrides c with the options in the YAML file at path.
func (c *Config) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	return nil
}

// Resolve fills in the options whose defaults derive from others: an empty
// signing_key_path, media.directory or database.url is placed under
// data_dir, and each secret with a *_file option set is read from that
// file, with surrounding white space trimmed. Resolve is idempotent. It
// returns an error if a secret file cannot be read or is empty, or if the
// secret is also set to a different value directly.
func (c *Config) Resolve() error {
	if c.SigningKeyPath == "" {
		c.SigningKeyPath = filepath.Join(c.DataDir, "signing.key")
	}
	if c.Media.Directory == "" {
		c.Media.Directory = filepath.Join(c.DataDir, "media")
	}
	err := errors.Join(
		readSecretFile(&c.Registration.SharedSecret, c.Registration.SharedSecretFile, "registration.shared_secret"),
		readSecretFile(&c.Database.URL, c.Database.URLFile, "database.url"),
	)
	if c.Database.URL == "" {
		c.Database.URL = Secret("sqlite:" + filepath.Join(c.DataDir, "ganglion.db"))
	}
	return err
}

// readSecretFile sets *dst, the option at yaml path key, from file.
func readSecretFile(dst *Secret, file, key string) error {
	if file == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s_file: %w", key, err)
	}
	s := Secret(strings.TrimSpace(string(data)))
	switch {
	case s == "":
		return fmt.Errorf("%s_file: %s is empty", key, file)
	case *dst != "" && *dst != s:
		return fmt.Errorf("%s: set both directly and in %s_file; keep one", key, key)
	}
	*dst = s
	return nil
}

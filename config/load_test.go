package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// mustWriteFile writes content to name in a fresh temporary directory and
// returns its path.
func mustWriteFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustResolve returns c resolved.
func mustResolve(t *testing.T, c *Config) *Config {
	t.Helper()
	if err := c.Resolve(); err != nil {
		t.Fatalf("Resolve: got %v, want nil", err)
	}
	return c
}

// wantErrContaining fails unless err mentions every one of parts.
func wantErrContaining(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("got error %q, want it to mention %q", err, p)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Run("NoFile", func(t *testing.T) {
		got, err := load("", nil)
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if want := mustResolve(t, Default()); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("EmptyFile", func(t *testing.T) {
		got, err := load(mustWriteFile(t, "empty.yaml", "# nothing set\n"), nil)
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if want := mustResolve(t, Default()); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("FileOverrides", func(t *testing.T) {
		path := mustWriteFile(t, "ganglion.yaml", `
server_name: example.org
listeners:
  client:
    address: 0.0.0.0:8008
rate_limit:
  enabled: false
auth:
  access_token_lifetime: 1h30m
http:
  cors_origins: [https://app.example.org]
`)
		got, err := load(path, nil)
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		want := Default()
		want.ServerName = "example.org"
		want.Listeners.Client.Address = "0.0.0.0:8008"
		want.RateLimit.Enabled = false
		want.Auth.AccessTokenLifetime = 90 * time.Minute
		want.HTTP.CORSOrigins = []string{"https://app.example.org"}
		if mustResolve(t, want); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("ErrUnknownKey", func(t *testing.T) {
		for content, want := range map[string]string{
			"server_nme: example.org\n": "field server_nme not found",
			"log:\n  colour: true\n":    "field colour not found",
		} {
			_, err := load(mustWriteFile(t, "ganglion.yaml", content), nil)
			wantErrContaining(t, err, want)
		}
	})
	t.Run("ErrBadYAML", func(t *testing.T) {
		_, err := load(mustWriteFile(t, "ganglion.yaml", "passwords:\n  iterations: lots\n"), nil)
		wantErrContaining(t, err, "ganglion.yaml", "lots")
	})
	t.Run("ErrTwoDocuments", func(t *testing.T) {
		_, err := load(mustWriteFile(t, "ganglion.yaml", "server_name: a.org\n---\nserver_name: b.org\n"), nil)
		wantErrContaining(t, err, "more than one YAML document")
	})
	t.Run("ErrMissingFile", func(t *testing.T) {
		_, err := load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
		wantErrContaining(t, err, "missing.yaml")
	})
	t.Run("EnvOverFile", func(t *testing.T) {
		path := mustWriteFile(t, "ganglion.yaml", "log:\n  level: debug\nserver_name: file.example\n")
		t.Setenv("GANGLION_LOG_LEVEL", "warn")
		got, err := Load(path)
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if got.Log.Level != "warn" {
			t.Errorf("got log.level %q, want %q", got.Log.Level, "warn")
		}
		if got.ServerName != "file.example" {
			t.Errorf("got server_name %q, want %q", got.ServerName, "file.example")
		}
	})
	t.Run("ErrEveryProblemAtOnce", func(t *testing.T) {
		path := mustWriteFile(t, "ganglion.yaml", "server_name: 'bad name'\nregistration:\n  mode: foo\nlog:\n  format: xml\n")
		env := []string{"GANGLION_RATE_LIMIT=maybe", "GANGLION_HTTP_MAX_BODY_BYTES=10"}
		_, err := load(path, env)
		wantErrContaining(t, err, "server_name:", "registration.mode:", "log.format:",
			"GANGLION_RATE_LIMIT", "http.max_body_bytes:")
	})
	t.Run("SecretFile", func(t *testing.T) {
		secret := mustWriteFile(t, "secret", "  s3cret\n")
		path := mustWriteFile(t, "ganglion.yaml", "registration:\n  shared_secret_file: "+secret+"\n")
		got, err := load(path, nil)
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if got.Registration.SharedSecret != "s3cret" {
			t.Errorf("got shared secret of %d bytes, want %q", len(got.Registration.SharedSecret), "s3cret")
		}
	})
}

func TestConfig_Resolve(t *testing.T) {
	t.Run("DerivedDefaults", func(t *testing.T) {
		c := Default()
		c.DataDir = "/srv/g"
		mustResolve(t, c)
		for _, tc := range []struct{ name, got, want string }{
			{"signing_key_path", c.SigningKeyPath, "/srv/g/signing.key"},
			{"database.url", string(c.Database.URL), "sqlite:/srv/g/ganglion.db"},
			{"media.directory", c.Media.Directory, "/srv/g/media"},
		} {
			if tc.got != tc.want {
				t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
			}
		}
	})
	t.Run("KeepsSetValues", func(t *testing.T) {
		c := Default()
		c.SigningKeyPath, c.Database.URL, c.Media.Directory = "k", "postgres://db/g", "m"
		want := *c
		if mustResolve(t, c); !reflect.DeepEqual(*c, want) {
			t.Errorf("got %+v, want %+v", *c, want)
		}
	})
	t.Run("SecretFiles", func(t *testing.T) {
		c := Default()
		c.Database.URLFile = mustWriteFile(t, "db", "postgres://u:pw@db/g\n")
		c.Registration.SharedSecretFile = mustWriteFile(t, "reg", "reg-secret")
		mustResolve(t, c)
		if c.Database.URL != "postgres://u:pw@db/g" {
			t.Errorf("got database.url of %d bytes, want the file's content", len(c.Database.URL))
		}
		if c.Registration.SharedSecret != "reg-secret" {
			t.Errorf("got shared secret of %d bytes, want the file's content", len(c.Registration.SharedSecret))
		}
		if err := c.Resolve(); err != nil {
			t.Errorf("second Resolve: got %v, want nil", err)
		}
	})
	t.Run("ErrSecretFile", func(t *testing.T) {
		c := Default()
		c.Registration.SharedSecret = "direct-secret"
		c.Registration.SharedSecretFile = mustWriteFile(t, "reg", "file-secret")
		c.Database.URLFile = mustWriteFile(t, "db", "\n")
		err := c.Resolve()
		wantErrContaining(t, err, "registration.shared_secret:", "database.url_file:")
		for _, secret := range []string{"direct-secret", "file-secret"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("got error %q, want it without the secret", err)
			}
		}
	})
	t.Run("ErrMissingSecretFile", func(t *testing.T) {
		c := Default()
		c.Registration.SharedSecretFile = filepath.Join(t.TempDir(), "nope")
		wantErrContaining(t, c.Resolve(), "registration.shared_secret_file:", "nope")
	})
}

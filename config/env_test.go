package config

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestConfig_ApplyEnv(t *testing.T) {
	t.Run("Generic", func(t *testing.T) {
		c := Default()
		err := c.ApplyEnv([]string{
			"GANGLION_SERVER_NAME=example.org",
			"GANGLION_LISTENERS_CLIENT_ADDRESS=0.0.0.0:80",
			"GANGLION_RATE_LIMIT_ENABLED=false",
			"GANGLION_RATE_LIMIT_PER_SECOND=2.5",
			"GANGLION_HTTP_CORS_ORIGINS=https://a.example, https://b.example,",
			"GANGLION_AUTH_ACCESS_TOKEN_LIFETIME=1h",
			"GANGLION_PASSWORDS_MEMORY_KIB=65536",
			"GANGLION_PASSWORDS_PARALLELISM=4",
			"GANGLION_MEDIA_MAX_UPLOAD_BYTES=1024",
			"GANGLION_DATABASE_URL=postgres://db/g",
			"GANGLION_REGISTRATION_ALLOW_GUESTS=yes",
			"GANGLION_TEST_POSTGRES=postgres://ignored",
			"PATH=/bin",
		})
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		want := Default()
		want.ServerName = "example.org"
		want.Listeners.Client.Address = "0.0.0.0:80"
		want.RateLimit.Enabled = false
		want.RateLimit.PerSecond = 2.5
		want.HTTP.CORSOrigins = []string{"https://a.example", "https://b.example"}
		want.Auth.AccessTokenLifetime = time.Hour
		want.Passwords.MemoryKiB = 65536
		want.Passwords.Parallelism = 4
		want.Media.MaxUploadBytes = 1024
		want.Database.URL = "postgres://db/g"
		want.Registration.AllowGuests = true
		if !reflect.DeepEqual(c, want) {
			t.Errorf("got %+v, want %+v", c, want)
		}
	})
	t.Run("Aliases", func(t *testing.T) {
		c := Default()
		err := c.ApplyEnv([]string{
			"GANGLION_DATA_DIR=/srv/g",
			"GANGLION_LISTEN=:8080",
			"GANGLION_DATABASE=sqlite:/tmp/g.db",
			"GANGLION_REGISTRATION=open",
			"GANGLION_REGISTRATION_SHARED_SECRET=s",
			"GANGLION_RATE_LIMIT=off",
			"GANGLION_LOG_LEVEL=debug",
		})
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		want := Default()
		want.DataDir = "/srv/g"
		want.Listeners.Client.Address = ":8080"
		want.Database.URL = "sqlite:/tmp/g.db"
		want.Registration.Mode = RegistrationOpen
		want.Registration.SharedSecret = "s"
		want.RateLimit.Enabled = false
		want.Log.Level = "debug"
		if !reflect.DeepEqual(c, want) {
			t.Errorf("got %+v, want %+v", c, want)
		}
	})
	t.Run("RateLimitOnOff", func(t *testing.T) {
		for _, tc := range []struct {
			value string
			want  bool
		}{{"on", true}, {"off", false}, {"true", true}, {"false", false}, {"OFF", false}} {
			c := Default()
			c.RateLimit.Enabled = !tc.want
			if err := c.ApplyEnv([]string{"GANGLION_RATE_LIMIT=" + tc.value}); err != nil {
				t.Fatalf("%s: got %v, want nil", tc.value, err)
			}
			if c.RateLimit.Enabled != tc.want {
				t.Errorf("%s: got %v, want %v", tc.value, c.RateLimit.Enabled, tc.want)
			}
		}
	})
	t.Run("AliasWins", func(t *testing.T) {
		for _, env := range [][]string{
			{"GANGLION_LISTEN=:1", "GANGLION_LISTENERS_CLIENT_ADDRESS=:2"},
			{"GANGLION_LISTENERS_CLIENT_ADDRESS=:2", "GANGLION_LISTEN=:1"},
		} {
			c := Default()
			if err := c.ApplyEnv(env); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if c.Listeners.Client.Address != ":1" {
				t.Errorf("%q: got %q, want %q", env, c.Listeners.Client.Address, ":1")
			}
		}
	})
	t.Run("EmptyList", func(t *testing.T) {
		c := Default()
		if err := c.ApplyEnv([]string{"GANGLION_HTTP_CORS_ORIGINS="}); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if c.HTTP.CORSOrigins == nil || len(c.HTTP.CORSOrigins) != 0 {
			t.Errorf("got %#v, want an empty list", c.HTTP.CORSOrigins)
		}
	})
	t.Run("ErrBadValues", func(t *testing.T) {
		c := Default()
		err := c.ApplyEnv([]string{
			"GANGLION_RATE_LIMIT=maybe",
			"GANGLION_PASSWORDS_PARALLELISM=300",
			"GANGLION_AUTH_LOGIN_TOKEN_LIFETIME=5",
			"GANGLION_RATE_LIMIT_BURST=many",
			"GANGLION_LOG_LEVEL=warn",
		})
		wantErrContaining(t, err, "GANGLION_RATE_LIMIT:", "GANGLION_PASSWORDS_PARALLELISM:",
			"GANGLION_AUTH_LOGIN_TOKEN_LIFETIME:", "GANGLION_RATE_LIMIT_BURST:")
		if c.Log.Level != "warn" {
			t.Errorf("got log.level %q, want %q (good values still applied)", c.Log.Level, "warn")
		}
	})
	t.Run("EveryOption", func(t *testing.T) {
		// Every option can be set, so a new option of a new type fails here.
		c := Default()
		var env []string
		before := make(map[string]string)
		for _, o := range c.options() {
			before[o.key()] = fmt.Sprint(o.value.Interface())
			env = append(env, o.envName()+"="+sampleEnvValue(o.value))
		}
		if err := c.ApplyEnv(env); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		for _, o := range c.options() {
			if got := fmt.Sprint(o.value.Interface()); got == before[o.key()] {
				t.Errorf("%s: got %s unchanged, want it set from %s", o.key(), got, o.envName())
			}
		}
	})
	t.Run("NamesUnique", func(t *testing.T) {
		seen := make(map[string]string)
		for _, o := range Default().options() {
			if other, ok := seen[o.envName()]; ok {
				t.Errorf("got %s for both %s and %s, want distinct names", o.envName(), other, o.key())
			}
			seen[o.envName()] = o.key()
		}
		keys := make(map[string]bool)
		for _, key := range seen {
			keys[key] = true
		}
		for _, a := range envAliases {
			if !keys[a.key] {
				t.Errorf("alias %s: got unknown key %q, want an option", a.name, a.key)
			}
		}
	})
}

// sampleEnvValue returns an environment value, different from Default's,
// for an option of v's type.
func sampleEnvValue(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return "7m"
	case v.Kind() == reflect.Bool:
		return fmt.Sprint(!v.Bool())
	case v.Kind() == reflect.Slice:
		return "a,b"
	case v.CanFloat():
		return "7.5"
	case v.CanInt(), v.CanUint():
		return "7"
	}
	return "sample"
}

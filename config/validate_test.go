package config

import (
	"strings"
	"testing"
)

func TestConfig_Validate(t *testing.T) {
	t.Run("DefaultOK", func(t *testing.T) {
		if err := mustResolve(t, Default()).Validate(); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		for name, mutate := range map[string]func(c *Config){
			"SQLiteURL":          func(c *Config) { c.Database.URL = "sqlite::memory:" },
			"DBPath":             func(c *Config) { c.Database.URL = "data/ganglion.db" },
			"PostgresURL":        func(c *Config) { c.Database.URL = "postgres://u:p@db:5432/g?sslmode=disable" },
			"PostgresqlURL":      func(c *Config) { c.Database.URL = "postgresql:///g?host=/run/postgresql" },
			"AnyHostPort0":       func(c *Config) { c.Listeners.Client.Address = ":0" },
			"FederationListener": func(c *Config) { c.Listeners.Federation = Listener{"[::]:8448", "c.pem", "k.pem"} },
			"RateLimitOff":       func(c *Config) { c.RateLimit = RateLimit{Enabled: false} },
			"TokenMode":          func(c *Config) { c.Registration.Mode = RegistrationToken },
			"RoomVersion12":      func(c *Config) { c.Rooms.DefaultVersion = "12" },
			"CORSOrigins":        func(c *Config) { c.HTTP.CORSOrigins = []string{"https://a.example", "http://b:8080"} },
			"WellKnown": func(c *Config) {
				c.WellKnown = WellKnown{"https://matrix.example.org", "matrix.example.org:443"}
			},
		} {
			t.Run(name, func(t *testing.T) {
				c := mustResolve(t, Default())
				mutate(c)
				if err := c.Validate(); err != nil {
					t.Errorf("got %v, want nil", err)
				}
			})
		}
	})
	t.Run("ErrEach", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			mutate func(c *Config)
			want   string
		}{
			{"ServerName", func(c *Config) { c.ServerName = "" }, `server_name: "" is not a valid server name`},
			{"DataDir", func(c *Config) { c.DataDir = "" }, "data_dir: must not be empty"},
			{"ClientAddress", func(c *Config) { c.Listeners.Client.Address = "8008" }, "listeners.client.address:"},
			{"ClientAddressEmpty", func(c *Config) { c.Listeners.Client.Address = "" }, "listeners.client.address: must not be empty"},
			{"ClientPort", func(c *Config) { c.Listeners.Client.Address = "host:http" }, "listeners.client.address:"},
			{"TLSHalf", func(c *Config) { c.Listeners.Client.TLSCert = "c.pem" }, "listeners.client: tls_cert and tls_key"},
			{"TLSNoAddress", func(c *Config) { c.Listeners.Federation.TLSKey = "k" }, "listeners.federation.address:"},
			{"DatabaseURL", func(c *Config) { c.Database.URL = "mysql://db" }, "database.url: must be"},
			{"SQLiteNoPath", func(c *Config) { c.Database.URL = "sqlite:" }, "database.url: sqlite: needs a path"},
			{"MaxOpenConns", func(c *Config) { c.Database.MaxOpenConns = 0 }, "database.max_open_conns:"},
			{"Mode", func(c *Config) { c.Registration.Mode = "foo" }, `registration.mode: "foo" must be one of disabled, open, token`},
			{"MemoryKiB", func(c *Config) { c.Passwords.MemoryKiB = 7 }, "passwords.memory_kib: 7 must be at least 8"},
			{"Iterations", func(c *Config) { c.Passwords.Iterations = 0 }, "passwords.iterations:"},
			{"Parallelism", func(c *Config) { c.Passwords.Parallelism = 0 }, "passwords.parallelism:"},
			{"MinLength", func(c *Config) { c.Passwords.MinLength = 0 }, "passwords.min_length:"},
			{"OldRoomVersion", func(c *Config) { c.Rooms.DefaultVersion = "9" }, `rooms.default_version: "9" must be one of 10, 11, 12`},
			{"AccessToken", func(c *Config) { c.Auth.AccessTokenLifetime = 0 }, "auth.access_token_lifetime:"},
			{"LoginToken", func(c *Config) { c.Auth.LoginTokenLifetime = -1 }, "auth.login_token_lifetime:"},
			{"PerSecond", func(c *Config) { c.RateLimit.PerSecond = 0 }, "rate_limit.per_second:"},
			{"Burst", func(c *Config) { c.RateLimit.Burst = 0 }, "rate_limit.burst:"},
			{"LogLevel", func(c *Config) { c.Log.Level = "trace" }, "log.level:"},
			{"LogFormat", func(c *Config) { c.Log.Format = "xml" }, "log.format:"},
			{"MaxBody", func(c *Config) { c.HTTP.MaxBodyBytes = 1023 }, "http.max_body_bytes: 1023 must be at least 1024"},
			{"CORS", func(c *Config) { c.HTTP.CORSOrigins = []string{"*", "https://a/path"} }, "http.cors_origins[1]:"},
			{"MaxUpload", func(c *Config) { c.Media.MaxUploadBytes = 0 }, "media.max_upload_bytes:"},
			{"MediaDir", func(c *Config) { c.Media.Directory = "" }, "media.directory:"},
			{"Quota", func(c *Config) { c.Media.QuotaBytes = -1 }, "media.quota_bytes:"},
			{"PreviewAllow", func(c *Config) { c.Media.PreviewIPAllow = []string{"10.0.0.0/8", "10.0.0.1"} }, "media.preview_ip_allow[1]:"},
			{"PreviewDeny", func(c *Config) { c.Media.PreviewIPDeny = []string{"example.org"} }, "media.preview_ip_deny[0]:"},
			{"ClientBaseURL", func(c *Config) { c.WellKnown.ClientBaseURL = "matrix.example.org" }, "well_known.client_base_url:"},
			{"Delegation", func(c *Config) { c.WellKnown.ServerDelegation = "a b" }, "well_known.server_delegation:"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := mustResolve(t, Default())
				tc.mutate(c)
				wantErrContaining(t, c.Validate(), tc.want)
			})
		}
	})
	t.Run("ErrAllAtOnce", func(t *testing.T) {
		c := mustResolve(t, Default())
		c.ServerName = "exa mple.org"
		c.Registration.Mode = "foo"
		c.Listeners.Client.Address = "nope"
		c.Passwords.Iterations = 0
		c.Log.Level = "loud"
		err := c.Validate()
		wantErrContaining(t, err, "server_name:", "registration.mode:", "listeners.client.address:",
			"passwords.iterations:", "log.level:")
		joined, ok := err.(interface{ Unwrap() []error })
		if !ok {
			t.Fatalf("got %T, want an errors.Join error", err)
		}
		if got := len(joined.Unwrap()); got != 5 {
			t.Errorf("got %d problems, want 5: %v", got, err)
		}
	})
	t.Run("ErrSecretHidden", func(t *testing.T) {
		for _, url := range []string{"mysql://user:hunter2@db/g", "postgres://user:hunter2@db:port/g", "hunter2"} {
			c := mustResolve(t, Default())
			c.Database.URL = Secret(url)
			c.Registration.SharedSecret = "hunter2"
			err := c.Validate()
			wantErrContaining(t, err, "database.url:")
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("got %q, want no secret in the message", err)
			}
		}
	})
}

func TestValidServerName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"example.org", true},
		{"localhost:8448", true},
		{"1.2.3.4", true},
		{"1.2.3.4:1", true},
		{"[::1]:80", true},
		{"[1234:5678::abcd]", true},
		{"[::ffff:1.2.3.4]:65535", true},
		{"matrix-1.EXAMPLE.org", true},
		{strings.Repeat("a", 255), true},
		{"", false},
		{"exa mple.org", false},
		{"host:99999", false},
		{"host:65536", false},
		{"host:0", false},
		{"host:", false},
		{"host:80:80", false},
		{"host:8a", false},
		{"host:123456", false},
		{":80", false},
		{"[::1", false},
		{"[::1]80", false},
		{"[]", false},
		{"[example.org]", false},
		{"[1.2.3.4]", false},
		{"::1", false},
		{"ex_ample.org", false},
		{"exämple.org", false},
		{strings.Repeat("a", 256), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidServerName(tc.name); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite ganglion.sample.yaml from Generate(Default())")

const samplePath = "ganglion.sample.yaml"

// fullConfig sets every option to a valid value other than its default,
// with strings that need quoting in YAML.
func fullConfig() *Config {
	return &Config{
		ServerName:     "matrix.example.org:8448",
		DataDir:        "yes",
		SigningKeyPath: "/etc/ganglion/key: with # hash",
		Listeners: Listeners{
			Client:     Listener{Address: ":8008", TLSCert: "0x10", TLSKey: "null"},
			Federation: Listener{Address: "[::1]:8448", TLSCert: "'single'", TLSKey: `"double"`},
		},
		Database: Database{URL: "postgres://u:p%40ss@db/g?sslmode=disable", MaxOpenConns: 3},
		Registration: Registration{
			Mode:         RegistrationToken,
			SharedSecret: "  line one\nline two: #3\t",
			AllowGuests:  true,
		},
		Passwords: Passwords{MemoryKiB: 64, Iterations: 3, Parallelism: 4, MinLength: 12},
		Auth:      Auth{AccessTokenLifetime: 90 * time.Second, LoginTokenLifetime: 90*time.Minute + 500*time.Millisecond},
		RateLimit: RateLimit{Enabled: false, PerSecond: 0.1, Burst: 1},
		Log:       Log{Level: "debug", Format: "json"},
		Rooms:     Rooms{DefaultVersion: "11"},
		Media: Media{
			Directory: strings.Repeat("long directory name ", 20), MaxUploadBytes: 1, QuotaBytes: 1 << 30,
			LegacyUnauthenticated: true, PreviewIPAllow: []string{"10.1.0.0/16", "fd00::/8"}, PreviewIPDeny: []string{"203.0.113.0/24"},
		},
		HTTP:      HTTP{MaxBodyBytes: 2048, CORSOrigins: []string{"https://a.example", "http://b.example:8080"}},
		WellKnown: WellKnown{ClientBaseURL: "https://matrix.example.org", ServerDelegation: "matrix.example.org:443"},
	}
}

// mustRoundTrip generates c, loads the result with no environment and
// returns the loaded config and the file.
func mustRoundTrip(t *testing.T, c *Config) (*Config, []byte) {
	t.Helper()
	data, err := Generate(c)
	if err != nil {
		t.Fatalf("Generate: got %v, want nil", err)
	}
	got, err := load(mustWriteFile(t, "ganglion.yaml", string(data)), nil)
	if err != nil {
		t.Fatalf("load: got %v, want nil; file:\n%s", err, data)
	}
	return got, data
}

func TestGenerate(t *testing.T) {
	t.Run("RoundTripDefault", func(t *testing.T) {
		got, _ := mustRoundTrip(t, Default())
		if want := mustResolve(t, Default()); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("RoundTripFull", func(t *testing.T) {
		got, data := mustRoundTrip(t, fullConfig())
		if want := mustResolve(t, fullConfig()); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v; file:\n%s", got, want, data)
		}
	})
	t.Run("RoundTripResolved", func(t *testing.T) {
		want := mustResolve(t, fullConfig())
		if got, _ := mustRoundTrip(t, want); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("SecretFileNotCopied", func(t *testing.T) {
		c := Default()
		c.Registration.SharedSecretFile = mustWriteFile(t, "secret", "s3cret-from-file\n")
		mustResolve(t, c)
		got, data := mustRoundTrip(t, c)
		if bytes.Contains(data, []byte("s3cret-from-file")) {
			t.Errorf("got the secret file's content in the file, want it left out")
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("got %+v, want %+v", got, c)
		}
	})
	t.Run("Documented", func(t *testing.T) {
		data, err := Generate(Default())
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		for _, o := range Default().options() {
			if !bytes.Contains(data, []byte("# Environment: "+o.envName())) {
				t.Errorf("%s: got no environment line, want one", o.key())
			}
		}
		ds, err := parseDocs(configSource)
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		checkDocumented(t, ds, reflect.TypeFor[Config](), "")
	})
	t.Run("ErrNil", func(t *testing.T) {
		if _, err := Generate(nil); err == nil {
			t.Errorf("got nil error, want one")
		}
	})
	t.Run("Golden", func(t *testing.T) {
		got, err := Generate(Default())
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if *update {
			if err := WriteFileAtomic(samplePath, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(samplePath)
		if err != nil {
			t.Fatalf("read sample (run go test ./config -update to create it): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("got Generate(Default()) different from %s, want equal; run go test ./config -update\ngot:\n%s",
				samplePath, got)
		}
	})
	t.Run("SampleLoads", func(t *testing.T) {
		got, err := load(filepath.Join(".", samplePath), nil)
		if err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if want := mustResolve(t, Default()); !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
}

// checkDocumented fails for every option of struct type typ without doc
// text, and every section without a field or type comment.
func checkDocumented(t *testing.T, ds docs, typ reflect.Type, prefix string) {
	t.Helper()
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := prefix + yamlKey(f)
		doc := ds[typ.Name()].fields[f.Name]
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			if doc == "" {
				doc = ds[f.Type.Name()].doc
			}
			checkDocumented(t, ds, f.Type, key+".")
		}
		if strings.TrimSpace(doc) == "" {
			t.Errorf("%s: got no doc comment in config.go, want one", key)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{500 * time.Millisecond, "500ms"},
		{90 * time.Second, "1m30s"},
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{time.Hour + time.Second, "1h0m1s"},
		{90 * time.Minute, "1h30m"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := formatDuration(tc.d); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

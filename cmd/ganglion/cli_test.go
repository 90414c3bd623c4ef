package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestServe_FirstStart runs "ganglion serve" with no config in an empty
// directory: it must create the data directory with config, key and
// database, serve, and on a second start reuse them.
func TestServe_FirstStart(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	addr := freeAddr(t)
	t.Setenv("GANGLION_LISTEN", addr)
	t.Setenv("GANGLION_SERVER_NAME", "first.example")

	runServeUntilUp(t, addr)
	for _, f := range []string{"data/ganglion.yaml", "data/signing.key", "data/ganglion.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after first start: %v", err)
		}
	}
	key, err := os.ReadFile(filepath.Join(dir, "data/signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, "data/ganglion.yaml"))
	if err != nil {
		t.Fatalf("written config does not load: %v", err)
	}
	if cfg.ServerName != "first.example" || cfg.Registration.Mode != config.RegistrationDisabled {
		t.Errorf("written config: got server %q registration %q, want first.example disabled",
			cfg.ServerName, cfg.Registration.Mode)
	}

	runServeUntilUp(t, addr)
	again, err := os.ReadFile(filepath.Join(dir, "data/signing.key"))
	if err != nil || !bytes.Equal(key, again) {
		t.Errorf("second start replaced the signing key (err %v)", err)
	}
}

// runServeUntilUp runs "ganglion serve", waits until /versions answers,
// then stops it as SIGTERM would and checks that it exits cleanly.
func runServeUntilUp(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}) }()
	cli := mustClient(t, "http://"+addr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := cli.Versions(context.Background()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server on %s did not answer within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v after shutdown", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServe_InvalidConfig: a bad config refuses to start and names every
// bad option at once.
func TestServe_InvalidConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := "server_name: \"not a name\"\nregistration:\n  mode: sometimes\nlog:\n  level: loud\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"serve", "-config", path})
	if err == nil {
		t.Fatal("got nil error, want the config refused")
	}
	for _, key := range []string{"server_name", "registration.mode", "log.level"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}

// TestGenerateConfig writes a config that loads, and refuses to overwrite.
func TestGenerateConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ganglion.yaml")
	if err := run(context.Background(), []string{"generate-config", "-server-name", "town.example", "-o", path}); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("generated config does not load: %v", err)
	}
	if cfg.ServerName != "town.example" {
		t.Errorf("got server_name %q, want town.example", cfg.ServerName)
	}
	if err := run(context.Background(), []string{"generate-config", "-o", path}); err == nil {
		t.Error("overwrote an existing file, want an error")
	}
}

// TestUserCommand drives "ganglion user" against the database of a
// running server, as IT staff would, on both dialects.
func TestUserCommand(t *testing.T) {
	for _, dialect := range storagetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			cfg := testConfig(t, dialect)
			cfg.Registration.Mode = config.RegistrationDisabled
			path := writeConfig(t, cfg)
			srv, _ := startServer(t, cfg)
			ctx := context.Background()
			user := func(args ...string) error {
				return run(ctx, append([]string{"user"}, append(args, "-config", path)...))
			}

			if err := user("create", "-password", "first password", "carol"); err != nil {
				t.Fatalf("create: %v", err)
			}
			if err := user("create", "-password", "first password", "carol"); err == nil {
				t.Error("second create of carol: got nil error")
			}
			if err := user("create", "-password", "first password", "Bad Name"); err == nil {
				t.Error("create with an invalid name: got nil error")
			}
			cli := mustLogin(t, srv.URL, "carol", "first password", "desk")

			if err := user("password", "-password", "second password", "@carol:test.local"); err != nil {
				t.Fatalf("password: %v", err)
			}
			db := storagetest.Open(t, string(cfg.Database.URL))
			// The server's token cache may keep the token for up to its TTL;
			// the database must have revoked it at once.
			if devices, err := db.Devices(ctx, "carol"); err != nil || len(devices) != 0 {
				t.Errorf("devices after password reset: got %d (err %v), want none", len(devices), err)
			}
			if _, err := cli.Login(ctx, &mautrix.ReqLogin{
				Type:       mautrix.AuthTypePassword,
				Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "carol"},
				Password:   "first password",
			}); !errors.Is(err, mautrix.MForbidden) {
				t.Errorf("login with the old password: got %v, want M_FORBIDDEN", err)
			}
			mustLogin(t, srv.URL, "carol", "second password", "desk")

			if err := user("admin", "carol"); err != nil {
				t.Fatalf("admin: %v", err)
			}
			acct, err := db.Account(ctx, "carol")
			if err != nil || !acct.IsAdmin {
				t.Errorf("after admin: got admin=%v (err %v), want true", acct.IsAdmin, err)
			}
			if err := user("deactivate", "carol"); err != nil {
				t.Fatalf("deactivate: %v", err)
			}
			_, err = mustClient(t, srv.URL).Login(ctx, &mautrix.ReqLogin{
				Type:       mautrix.AuthTypePassword,
				Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "carol"},
				Password:   "second password",
			})
			if !errors.Is(err, mautrix.MForbidden) {
				t.Errorf("login after deactivate: got %v, want M_FORBIDDEN", err)
			}
			if err := user("password", "-password", "third password", "nobody"); err == nil {
				t.Error("password for an unknown user: got nil error")
			}
		})
	}
}

// TestTokenCommand creates a registration token with the CLI and registers
// with it.
func TestTokenCommand(t *testing.T) {
	cfg := testConfig(t, "sqlite")
	cfg.Registration.Mode = config.RegistrationToken
	path := writeConfig(t, cfg)
	ctx := context.Background()
	if err := run(ctx, []string{"token", "create", "-token", "welcome", "-uses", "1", "-config", path}); err != nil {
		t.Fatal(err)
	}
	db := storagetest.Open(t, string(cfg.Database.URL))
	tok, err := db.RegistrationToken(ctx, "welcome")
	if err != nil {
		t.Fatal(err)
	}
	if tok.UsesAllowed == nil || *tok.UsesAllowed != 1 || !tok.Valid(time.Now()) {
		t.Errorf("got token %+v, want one valid use", tok)
	}
	if err := run(ctx, []string{"token", "delete", "welcome", "-config", path}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RegistrationToken(ctx, "welcome"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after delete: got %v, want ErrNotFound", err)
	}
}

// writeConfig writes cfg to a file the commands can load.
func writeConfig(t *testing.T, cfg *config.Config) string {
	t.Helper()
	data, err := config.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ganglion.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

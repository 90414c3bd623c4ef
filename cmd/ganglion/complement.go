package main

import (
	"context"
	"errors"
	"os"

	"github.com/ganglion/ganglion/config"
)

// complementCommand is "ganglion complement": the mode of the project's
// container image for the Complement conformance suite. Complement starts
// the image with SERVER_NAME set and expects the client API on port 8008,
// open registration, shared-secret registration with the secret
// "complement", no rate limits, and all state inside the container.
func complementCommand(ctx context.Context) error {
	cfg := config.Default()
	cfg.ServerName = os.Getenv("SERVER_NAME")
	if cfg.ServerName == "" {
		return errors.New("SERVER_NAME is not set: this mode is for the Complement test image")
	}
	cfg.DataDir = "/data"
	cfg.Listeners.Client.Address = "0.0.0.0:8008"
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.Registration.SharedSecret = "complement"
	cfg.Registration.AllowGuests = true
	cfg.RateLimit.Enabled = false
	// Complement registers hundreds of users; the hash need not resist
	// cracking in a throw-away container.
	cfg.Passwords.MemoryKiB, cfg.Passwords.Iterations = 64, 1
	cfg.Passwords.MinLength = 1
	cfg.Log.Level = "debug"
	// The suite fetches media the pre-v1.11 way and previews pages served
	// from the Docker host, on private addresses.
	cfg.Media.LegacyUnauthenticated = true
	cfg.Media.PreviewIPAllow = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
	if err := cfg.ApplyEnv(os.Environ()); err != nil {
		return err
	}
	if err := cfg.Resolve(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, log)
}

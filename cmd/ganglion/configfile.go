package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage"
)

// configFlag adds the -config flag shared by every command that reads the
// configuration.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "config file (default: $GANGLION_DATA_DIR/ganglion.yaml, data/ganglion.yaml)")
}

// defaultConfigPath is where the config lives when -config is not given.
func defaultConfigPath() string {
	dir := os.Getenv("GANGLION_DATA_DIR")
	if dir == "" {
		dir = config.Default().DataDir
	}
	return filepath.Join(dir, "ganglion.yaml")
}

// loadConfig loads the config at path, or at the default path. If there is
// no file at the default path and create is set, it writes a new one there
// first (with server_name and data_dir from the environment, if set), so
// that a first start needs nothing but the binary.
func loadConfig(path string, create bool) (cfg *config.Config, createdPath string, err error) {
	if path == "" {
		path = defaultConfigPath()
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && create {
			if err := writeFirstConfig(path); err != nil {
				return nil, "", err
			}
			createdPath = path
		}
	}
	cfg, err = config.Load(path)
	return cfg, createdPath, err
}

func writeFirstConfig(path string) error {
	c := config.Default()
	if v := os.Getenv("GANGLION_SERVER_NAME"); v != "" {
		c.ServerName = v
	}
	if v := os.Getenv("GANGLION_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	data, err := config.Generate(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return config.WriteFileAtomic(path, data, 0o600)
}

// generateConfigCommand is "ganglion generate-config".
func generateConfigCommand(args []string) error {
	fs := flag.NewFlagSet("generate-config", flag.ContinueOnError)
	out := fs.String("o", "", "write to this file instead of standard output")
	serverName := fs.String("server-name", "", "server_name to put in the file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := config.Default()
	if *serverName != "" {
		c.ServerName = *serverName
	}
	data, err := config.Generate(c)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = os.Stdout.Write(data)
		return err
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("%s exists: not overwriting it", *out)
	}
	return config.WriteFileAtomic(*out, data, 0o600)
}

// parseArgs parses flags that may come before, between or after the
// positional arguments ("user create alice -admin"), which flag.Parse alone
// does not allow, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openConfigured loads an existing config file and opens its database, for
// the admin subcommands that work on a server's data directly. The caller
// closes the database.
func openConfigured(ctx context.Context, path string) (*config.Config, *storage.DB, error) {
	cfg, _, err := loadConfig(path, false)
	if err != nil {
		return nil, nil, err
	}
	db, err := storage.Open(ctx, string(cfg.Database.URL), storage.Options{})
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}

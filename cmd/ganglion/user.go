package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ganglion/ganglion/clientapi"
	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage"
)

const userUsage = `usage: ganglion user <action> [flags] NAME

actions:
  create NAME       create an account (-admin to make it an administrator)
  password NAME     set a new password (every device is logged out)
  admin NAME        grant administration (-revoke to take it away)
  deactivate NAME   deactivate the account for good (-erase to clear its profile and data)

The password is read from standard input (one line), or from -password.
NAME is a localpart ("alice") or a full user id on this server.
`

// userCommand is "ganglion user ...": account management for IT staff,
// working directly on the configured database.
func userCommand(ctx context.Context, args []string) error {
	c, err := newAdminCommand("user", userUsage, args)
	if err != nil {
		return err
	}
	password := c.flags.String("password", "", "password (default: read from standard input)")
	admin := c.flags.Bool("admin", false, "create: make the user an administrator")
	revoke := c.flags.Bool("revoke", false, "admin: revoke administration")
	erase := c.flags.Bool("erase", false, "deactivate: also erase profile and account data")
	names, err := c.parse()
	if err != nil {
		return err
	}
	name, err := c.exactlyOne(names, "user name")
	if err != nil {
		return err
	}
	cfg, db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	localpart, err := localpartArg(cfg, name)
	if err != nil {
		return err
	}
	u := userAdmin{cfg: cfg, db: db, out: os.Stdout}
	switch c.action {
	case "create", "password":
		pw, err := readPassword(*password, os.Stdin)
		if err != nil {
			return err
		}
		if c.action == "create" {
			return u.create(ctx, localpart, pw, *admin)
		}
		return u.setPassword(ctx, localpart, pw)
	case "admin":
		return u.setAdmin(ctx, localpart, !*revoke)
	case "deactivate":
		return u.deactivate(ctx, localpart, *erase)
	default:
		return c.unknownAction()
	}
}

// localpartArg accepts "alice" or "@alice:server" for a user on this server.
func localpartArg(cfg *config.Config, name string) (string, error) {
	if !strings.HasPrefix(name, "@") {
		return strings.ToLower(name), nil
	}
	local, server, _ := strings.Cut(name[1:], ":")
	if server != cfg.ServerName {
		return "", fmt.Errorf("%s is not a user of %s", name, cfg.ServerName)
	}
	return strings.ToLower(local), nil
}

// readPassword returns the flag's password or the first line of in.
func readPassword(flagValue string, in io.Reader) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given: pass -password or one line on standard input")
	}
	return pw, nil
}

// userAdmin carries out the user actions.
type userAdmin struct {
	cfg *config.Config
	db  *storage.DB
	out io.Writer
}

func (u userAdmin) create(ctx context.Context, localpart, password string, admin bool) error {
	if err := clientapi.CheckNewAccount(u.cfg, localpart, password); err != nil {
		return err
	}
	hash, err := u.hash(password)
	if err != nil {
		return err
	}
	err = u.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		return tx.InsertAccount(ctx, storage.Account{Localpart: localpart, PasswordHash: hash, IsAdmin: admin})
	})
	if errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("@%s:%s exists (or existed and was deactivated)", localpart, u.cfg.ServerName)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(u.out, "created @%s:%s\n", localpart, u.cfg.ServerName)
	return nil
}

func (u userAdmin) setPassword(ctx context.Context, localpart, password string) error {
	if err := clientapi.CheckNewAccount(u.cfg, "", password); err != nil {
		return err
	}
	hash, err := u.hash(password)
	if err != nil {
		return err
	}
	err = u.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		if err := tx.SetPasswordHash(ctx, localpart, hash); err != nil {
			return err
		}
		ids, err := tx.DeviceIDs(ctx, localpart)
		if err != nil {
			return err
		}
		if err := tx.DeleteDevices(ctx, localpart, ids); err != nil {
			return err
		}
		return tx.ForgetDevices(ctx, u.userID(localpart), ids)
	})
	if err != nil {
		return u.notFound(localpart, err)
	}
	fmt.Fprintf(u.out, "password of @%s:%s changed; every device was logged out\n", localpart, u.cfg.ServerName)
	return nil
}

func (u userAdmin) setAdmin(ctx context.Context, localpart string, admin bool) error {
	err := u.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		return tx.SetAdmin(ctx, localpart, admin)
	})
	if err != nil {
		return u.notFound(localpart, err)
	}
	fmt.Fprintf(u.out, "@%s:%s admin: %v\n", localpart, u.cfg.ServerName, admin)
	return nil
}

func (u userAdmin) deactivate(ctx context.Context, localpart string, erase bool) error {
	err := u.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		ids, err := tx.DeviceIDs(ctx, localpart)
		if err != nil {
			return err
		}
		if err := tx.DeactivateAccount(ctx, localpart, erase); err != nil {
			return err
		}
		return tx.ForgetDevices(ctx, u.userID(localpart), ids)
	})
	if err != nil {
		return u.notFound(localpart, err)
	}
	fmt.Fprintf(u.out, "@%s:%s deactivated\n", localpart, u.cfg.ServerName)
	return nil
}

func (u userAdmin) hash(password string) (string, error) {
	p, err := clientapi.NewPasswords(u.cfg.Passwords)
	if err != nil {
		return "", err
	}
	return p.Hash(password)
}

func (u userAdmin) notFound(localpart string, err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no active user @%s:%s", localpart, u.cfg.ServerName)
	}
	return err
}

func (u userAdmin) userID(localpart string) string { return "@" + localpart + ":" + u.cfg.ServerName }

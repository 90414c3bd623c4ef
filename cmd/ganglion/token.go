package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/ganglion/ganglion/storage"
)

const tokenUsage = `usage: ganglion token <action> [flags]

actions:
  create [-uses N] [-expires DURATION] [-token T]   create a registration token (printed)
  list                                              list tokens and their use
  delete TOKEN                                      delete a token

Registration tokens let people register when registration.mode is "token".
`

// tokenCommand is "ganglion token ...".
func tokenCommand(ctx context.Context, args []string) error {
	c, err := newAdminCommand("token", tokenUsage, args)
	if err != nil {
		return err
	}
	uses := c.flags.Int64("uses", 0, "create: number of registrations allowed (0: unlimited)")
	expires := c.flags.Duration("expires", 0, "create: lifetime, e.g. 168h (0: never expires)")
	value := c.flags.String("token", "", "create: the token (default: random)")
	rest, err := c.parse()
	if err != nil {
		return err
	}
	_, db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	switch c.action {
	case "create":
		t := storage.RegistrationToken{Token: *value}
		if t.Token == "" {
			b := make([]byte, 12)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			t.Token = base64.RawURLEncoding.EncodeToString(b)
		}
		if *uses > 0 {
			t.UsesAllowed = uses
		}
		if *expires > 0 {
			at := time.Now().Add(*expires)
			t.ExpiresAt = &at
		}
		err := db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			return tx.InsertRegistrationToken(ctx, t)
		})
		if errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("token %s exists", t.Token)
		}
		if err != nil {
			return err
		}
		fmt.Println(t.Token)
		return nil
	case "list":
		tokens, err := db.RegistrationTokens(ctx)
		if err != nil {
			return err
		}
		for _, t := range tokens {
			fmt.Println(describeToken(t, db.Now()))
		}
		return nil
	case "delete":
		if len(rest) != 1 {
			return errors.New("want the token to delete")
		}
		err := db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeleteRegistrationToken(ctx, rest[0])
		})
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no token %s", rest[0])
		}
		return err
	default:
		return c.unknownAction()
	}
}

func describeToken(t storage.RegistrationToken, now time.Time) string {
	uses := "unlimited"
	if t.UsesAllowed != nil {
		uses = fmt.Sprint(*t.UsesAllowed)
	}
	expiry := "never"
	if t.ExpiresAt != nil {
		expiry = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s\tallowed=%s completed=%d pending=%d expires=%s valid=%v",
		t.Token, uses, t.Completed, t.Pending, expiry, t.Valid(now))
}

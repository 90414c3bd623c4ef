package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/clientapi/media"
	"github.com/ganglion/ganglion/internal/mxerr"
)

const mediaUsage = `usage: ganglion media <action> [flags] MXC-URI

actions:
  delete mxc://SERVER/ID   delete local media, its thumbnails and the files no other media shares

Works directly on the configured database and media directory, so run it
where the media directory is. A running server needs no restart: downloads of
the media answer 404 at once. An upload of exactly the same content to a
running server at the same moment could lose its file, since the server's lock
on files does not reach this process; on a busy server prefer the admin API,
DELETE /_synapse/admin/v1/media/SERVER/ID with an administrator's token.
`

// mediaCommand is "ganglion media ...": media administration for IT staff,
// on the configured database and media directory.
func mediaCommand(ctx context.Context, args []string) error {
	c, err := newAdminCommand("media", mediaUsage, args)
	if err != nil {
		return err
	}
	uris, err := c.parse()
	if err != nil {
		return err
	}
	if c.action != "delete" {
		return c.unknownAction()
	}
	uri, err := c.exactlyOne(uris, "mxc:// URI")
	if err != nil {
		return err
	}
	cfg, db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	log := logrus.New()
	log.SetOutput(io.Discard)
	repo, err := media.New(media.Config{ServerName: cfg.ServerName, Media: cfg.Media}, media.Deps{DB: db, Log: log})
	if err != nil {
		return err
	}
	return deleteMedia(ctx, repo, uri, os.Stdout)
}

// deleteMedia deletes the media an mxc:// URI names and reports it on out.
func deleteMedia(ctx context.Context, repo *media.Media, uri string, out io.Writer) error {
	server, mediaID, err := media.ParseMXC(uri)
	if err == nil {
		err = repo.DeleteLocal(ctx, server, mediaID)
	}
	var mx *mxerr.Error
	if errors.As(err, &mx) {
		return fmt.Errorf("%s: %s", uri, mx.Message)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted %s\n", uri)
	return nil
}

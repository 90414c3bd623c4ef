package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage"
)

// adminCommand is what the admin subcommands ("ganglion user|token|media
// ACTION [flags] ...") share: the action, its flag set with -config, and the
// usage text printed when the arguments are wrong.
type adminCommand struct {
	name   string
	action string
	args   []string // after the action
	flags  *flag.FlagSet
	config *string
	usage  string
}

// newAdminCommand takes the action from args[0] and makes its flag set,
// named "NAME ACTION", with -config; the caller adds its own flags before
// calling parse. Without an action it prints the usage and returns
// flag.ErrHelp.
func newAdminCommand(name, usage string, args []string) (*adminCommand, error) {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return nil, flag.ErrHelp
	}
	fs := flag.NewFlagSet(name+" "+args[0], flag.ContinueOnError)
	return &adminCommand{
		name:   name,
		action: args[0],
		args:   args[1:],
		flags:  fs,
		config: configFlag(fs),
		usage:  usage,
	}, nil
}

// parse parses the flags after the action and returns the positional
// arguments.
func (c *adminCommand) parse() ([]string, error) {
	return parseArgs(c.flags, c.args)
}

// usageError prints the usage and returns err.
func (c *adminCommand) usageError(err error) error {
	fmt.Fprint(os.Stderr, c.usage)
	return err
}

// unknownAction prints the usage and returns an error naming the action.
func (c *adminCommand) unknownAction() error {
	return c.usageError(fmt.Errorf("unknown %s action %q", c.name, c.action))
}

// exactlyOne returns the only positional argument; if there are none or
// several it prints the usage and returns "want exactly one WHAT".
func (c *adminCommand) exactlyOne(positional []string, what string) (string, error) {
	if len(positional) != 1 {
		return "", c.usageError(errors.New("want exactly one " + what))
	}
	return positional[0], nil
}

// open loads the config file named by -config and opens its database. The
// caller closes the database.
func (c *adminCommand) open(ctx context.Context) (*config.Config, *storage.DB, error) {
	return openConfigured(ctx, *c.config)
}

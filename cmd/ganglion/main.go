// Command ganglion is the Ganglion Matrix homeserver.
//
//	ganglion serve [-config FILE]             run the homeserver
//	ganglion generate-config [-o FILE]        write a commented config file
//	ganglion user create|password|admin|deactivate ...   manage accounts
//	ganglion token create|list|delete ...     manage registration tokens
//	ganglion media delete MXC-URI             delete media and its files
//	ganglion complement                       run in the Complement test image
//	ganglion bench -scenario NAME ...         load a running homeserver
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: ganglion <command> [flags]

commands:
  serve            run the homeserver (first start creates ./data with config, key and database)
  generate-config  write a commented config file
  user             create users, reset passwords, grant admin, deactivate
  token            create, list and delete registration tokens
  media            delete media and its files
  complement       run as the Complement conformance test suite expects (in its image)
  bench            load a running homeserver as clients do and report rates and latencies
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ganglion:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:])
	case "generate-config":
		return generateConfigCommand(args[1:])
	case "user":
		return userCommand(ctx, args[1:])
	case "token":
		return tokenCommand(ctx, args[1:])
	case "media":
		return mediaCommand(ctx, args[1:])
	case "complement":
		return complementCommand(ctx)
	case "bench":
		return benchCommand(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

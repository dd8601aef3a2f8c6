// Command lienthong runs and drives a lienthong node; see `lienthong help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/lienthong/lienthong/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], &cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}

// Command persond runs a node of the Person runtime: an embedded NATS
// server with JetStream (or an external one), the person grains on a
// protoactor-go cluster member, the NATS command gateway, and health and
// metrics over HTTP. SIGINT or SIGTERM drains it and exits 0.
//
//	go run ./cmd/persond                 # data in ./data, NATS on 127.0.0.1:4222
//	go run ./cmd/persond --help          # every flag
//
// docs/CLUSTER.md starts a three-node cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cim/personrt/runtime/app"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run parses args, runs the node until SIGINT/SIGTERM and returns the exit
// code: 0 after a clean shutdown, 1 on failure, 2 on bad flags.
func run(args []string, stderr io.Writer) int {
	var cfg app.Config
	fs := flag.NewFlagSet("persond", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Flags(fs)
	logFormat := fs.String("log-format", "text", `log format: "text" or "json"`)
	logLevel := fs.String("log-level", "info", `lowest level logged: "debug", "info", "warn" or "error"`)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `persond runs a node of the Person runtime: each person is a virtual actor whose events
are stored in NATS JetStream. By default it embeds a NATS server (data in ./data, fsync on
every write, clients on nats://127.0.0.1:4222) and is a one-member cluster: nodes that share
one NATS (--nats-url) or one NATS cluster (--nats-cluster-listen, --nats-cluster) form one
cluster and spread the grains evenly (docs/CLUSTER.md). Commands and queries arrive through
the NATS gateway (person.commands.<id>, person.queries.<id>, see docs/PROTOCOL.md) or
personctl. SIGINT/SIGTERM drains and exits 0.

Usage: persond [flags]

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "persond: unexpected argument %q (see persond --help)\n", fs.Arg(0))
		return 2
	}
	logger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "persond: %v\n", err)
		return 2
	}
	slog.SetDefault(logger)
	cfg.Logger = logger

	a, err := app.New(cfg)
	if err != nil {
		logger.Error("persond: invalid configuration", slog.Any("err", err))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Run(ctx); err != nil {
		logger.Error("persond: failed", slog.Any("err", err))
		return 1
	}
	return 0
}

// newLogger returns the process logger.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

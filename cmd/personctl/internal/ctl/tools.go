package ctl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/runtime/dlq"
	"github.com/cim/personrt/runtime/migrate"
)

// tool is an operator command with its own argument grammar (dlq, migrate,
// verify). A tool with run gets a connection to --nats-url (personctl parses
// only its global flags before the tool's name) and the words after the
// name; a tool with own parses every argument itself.
type tool struct {
	about string
	run   func(ctx context.Context, nc *nats.Conn, args []string, stdout, stderr io.Writer) int
	own   func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func tools() map[string]tool {
	return map[string]tool{
		"dlq": {
			about: "dead-letter stream: list|show|replay|discard (personctl dlq help)",
			run: func(ctx context.Context, nc *nats.Conn, args []string, stdout, stderr io.Writer) int {
				d, err := dlq.Open(ctx, nc, dlq.Config{})
				if err != nil {
					fmt.Fprintf(stderr, "personctl dlq: %v\n", err)
					return ExitUnavailable
				}
				return dlq.Command(ctx, d, args, stdout, stderr)
			},
		},
		"migrate": {
			about: "rewrite the event stream at the current schema: --dry-run, --resume, --finalize (personctl migrate --help)",
			own:   migrate.Command,
		},
		"verify": {
			about: "prove a migrated stream equals its source (personctl verify --help)",
			own:   migrate.Command,
		},
	}
}

// runTool runs args as a tool command when the first word that is not a
// flag names one; ok is false otherwise.
func runTool(ctx context.Context, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if !strings.Contains(args[i], "=") {
			i++ // the flag's value
		}
		i++
	}
	if i >= len(args) {
		return 0, false
	}
	t, found := tools()[args[i]]
	if !found {
		return 0, false
	}
	if t.own != nil {
		return t.own(ctx, args[i:], stdout, stderr), true
	}
	var g globals
	fs := flag.NewFlagSet("personctl "+args[i], flag.ContinueOnError)
	fs.SetOutput(stderr)
	g.bind(fs)
	if err := fs.Parse(args[:i]); err != nil {
		return ExitUsage, true
	}
	nc, err := nats.Connect(g.natsURL, nats.Name("personctl"))
	if err != nil {
		fmt.Fprintf(stderr, "personctl %s: cannot reach NATS at %s (is persond running? --nats-url): %v\n", args[i], g.natsURL, err)
		return ExitUnavailable, true
	}
	defer nc.Close()
	return t.run(ctx, nc, args[i+1:], stdout, stderr), true
}

// sortedTools yields the tools by name.
func sortedTools() func(yield func(string, tool) bool) {
	return func(yield func(string, tool) bool) {
		ts := tools()
		names := make([]string, 0, len(ts))
		for n := range ts {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if !yield(n, ts[n]) {
				return
			}
		}
	}
}

package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/gateway"
)

// Exit codes of personctl.
const (
	ExitOK          = 0 // success
	ExitError       = 1 // any other failure (INTERNAL, UNIMPLEMENTED, RESOURCE_EXHAUSTED, I/O)
	ExitUsage       = 2 // bad command line
	ExitRejected    = 3 // INVALID_ARGUMENT, FAILED_PRECONDITION, ALREADY_EXISTS: fix the command
	ExitNotFound    = 4 // NOT_FOUND
	ExitConflict    = 5 // CONFLICT: retry
	ExitUnavailable = 6 // UNAVAILABLE, DEADLINE_EXCEEDED, no NATS or no node: retry with the same --command-id
)

// DefaultNATSURL is where personctl looks for a node: the NATS server
// persond embeds by default.
const DefaultNATSURL = "nats://127.0.0.1:4222"

// ExitCode maps an error to personctl's exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var u usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	switch personv1.CodeOf(err) {
	case personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS:
		return ExitRejected
	case personv1.ErrorCode_ERROR_CODE_NOT_FOUND:
		return ExitNotFound
	case personv1.ErrorCode_ERROR_CODE_CONFLICT:
		return ExitConflict
	case personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED:
		return ExitUnavailable
	}
	return ExitError
}

// usageError is a bad command line; its text says what to fix.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// globals are the flags every command accepts.
type globals struct {
	natsURL       string
	timeout       time.Duration
	json          bool
	commandID     string
	correlationID string
	actor         string
	prefix        string
	stream        string
	eventsPrefix  string
}

func (g *globals) bind(fs *flag.FlagSet) {
	fs.StringVar(&g.natsURL, "nats-url", envOr("PERSONCTL_NATS_URL", DefaultNATSURL), "NATS server of the node (env PERSONCTL_NATS_URL)")
	fs.DurationVar(&g.timeout, "timeout", 5*time.Second, "deadline of each request")
	fs.BoolVar(&g.json, "json", false, "print replies as JSON (one object per line) for scripts")
	fs.StringVar(&g.commandID, "command-id", "", "command id (idempotency key); default a new UUIDv7. Reuse it to retry safely")
	fs.StringVar(&g.correlationID, "correlation-id", "", "correlation id stamped on the events")
	fs.StringVar(&g.actor, "actor", defaultActor(), "who issues the command, stamped on the events")
	fs.StringVar(&g.prefix, "prefix", gateway.DefaultPrefix, "subject prefix of the node's gateway (persond --gateway-prefix)")
	fs.StringVar(&g.stream, "stream", "PERSON_EVENTS", "event stream (watch)")
	fs.StringVar(&g.eventsPrefix, "events-prefix", "person.events", "subject prefix of the event stream (watch)")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultActor() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli:personctl"
}

// env is what a running command uses.
type env struct {
	globals
	stdout, stderr io.Writer
	nc             *nats.Conn
	client         *gateway.Client
}

// call bounds one request by --timeout.
func (e *env) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.timeout)
}

// envelope fills cmd's envelope: person, command id (--command-id or a new
// UUIDv7), correlation id, actor and issue time.
func (e *env) envelope(personID string, cmd *personv1.Command) error {
	id := e.commandID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("new command id: %w", err)
		}
		id = u.String()
	}
	cmd.CommandId, cmd.PersonId, cmd.CorrelationId, cmd.Actor = id, personID, e.correlationID, e.actor
	cmd.IssuedAt = timestamppb.Now()
	return nil
}

// spec is one personctl command.
type spec struct {
	name  string // "rename", "attribute add"
	args  string // positional arguments and main flags, for usage
	about string
	// bind registers the command's flags and returns what runs it with the
	// positional arguments.
	bind func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

// Run runs personctl with args (without the program name) and returns its
// exit code. ctx ends watch (and cancels any request).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if s, _, ok := lookup(args[1:]); ok {
				printCommandUsage(stdout, s)
				return ExitOK
			}
		}
		printUsage(stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if code, ok := runTool(ctx, args, stdout, stderr); ok {
		return code
	}
	s, rest, ok := lookup(args)
	if !ok {
		fmt.Fprintf(stderr, "personctl: unknown command %q (personctl --help lists them)\n", strings.Join(args[:min(2, len(args))], " "))
		return ExitUsage
	}
	e := &env{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("personctl "+s.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e.globals.bind(fs)
	run := s.bind(fs)
	pos, err := parseInterleaved(fs, rest)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printCommandUsage(stdout, s)
		return ExitOK
	case err != nil:
		err = usageError{err.Error()}
	default:
		if err = e.connect(); err == nil {
			defer e.nc.Close()
			err = run(ctx, e, pos)
		}
	}
	if err != nil {
		e.report(s, err)
	}
	return ExitCode(err)
}

// lookup finds the command named by the first words of args that are not
// flags ("--json get ada" is "get"), and returns it with the other args.
func lookup(args []string) (spec, []string, bool) {
	for i := range args {
		for _, s := range specs() {
			words := strings.Fields(s.name)
			if len(args)-i >= len(words) && strings.Join(args[i:i+len(words)], " ") == s.name {
				return s, append(slices.Clip(args[:i]), args[i+len(words):]...), true
			}
		}
		if !strings.HasPrefix(args[i], "-") && (i == 0 || !strings.HasPrefix(args[i-1], "-")) {
			break // a word that is neither a flag, a flag's value, nor a command
		}
	}
	return spec{}, nil, false
}

// parseInterleaved parses flags anywhere among the positional arguments
// ("get ada --json") and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (e *env) connect() error {
	nc, err := nats.Connect(e.natsURL, nats.Name("personctl"), nats.Timeout(min(e.timeout, 5*time.Second)))
	if err != nil {
		return &personv1.Error{Code: personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, Rule: "personctl.connect",
			Message: fmt.Sprintf("cannot reach NATS at %s (is persond running? --nats-url): %v", e.natsURL, err)}
	}
	c, err := gateway.NewClient(nc, gateway.ClientConfig{Prefix: e.prefix, Timeout: e.timeout})
	if err != nil {
		nc.Close()
		return usagef("%v", err)
	}
	e.nc, e.client = nc, c
	return nil
}

// report prints err: on stderr, and with --json also as a JSON error on
// stdout.
func (e *env) report(s spec, err error) {
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintf(e.stderr, "personctl %s: %v\nusage: personctl %s %s (personctl %s --help)\n", s.name, err, s.name, s.args, s.name)
		return
	}
	if e.json {
		printJSON(e.stdout, personv1.AsError(err, ""))
	}
	what := "failed"
	switch ExitCode(err) {
	case ExitRejected:
		what = "rejected"
	case ExitNotFound:
		what = "not found"
	case ExitConflict:
		what = "conflict"
	case ExitUnavailable:
		what = "unavailable"
	}
	fmt.Fprintf(e.stderr, "personctl %s: %s: %v\n", s.name, what, err)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `personctl creates, changes and reads persons through the NATS gateway of a persond node.

Usage: personctl <command> [arguments] [flags]

Commands:
`)
	for _, s := range specs() {
		fmt.Fprintf(w, "  %-22s %s\n", s.name, s.about)
	}
	for name, t := range sortedTools() {
		fmt.Fprintf(w, "  %-22s %s\n", name, t.about)
	}
	fmt.Fprint(w, `
Every command takes these flags (before or after its arguments):
`)
	fs := flag.NewFlagSet("personctl", flag.ContinueOnError)
	fs.SetOutput(w)
	var g globals
	g.bind(fs)
	fs.PrintDefaults()
	fmt.Fprintf(w, `
Exit codes:
  %d  ok
  %d  other error (INTERNAL, UNIMPLEMENTED, RESOURCE_EXHAUSTED, I/O)
  %d  usage: bad command line
  %d  rejected: INVALID_ARGUMENT, FAILED_PRECONDITION or ALREADY_EXISTS (fix the command)
  %d  not found: NOT_FOUND
  %d  conflict: CONFLICT (retry)
  %d  unavailable: UNAVAILABLE or DEADLINE_EXCEEDED, NATS or node unreachable (retry with the same --command-id)

Examples:
  personctl create ada --name "Ada Lovelace" --birth-date 1815-12-10 --email ada@example.org
  personctl rename ada --name "Ada King" --reason marriage
  personctl get ada
  personctl history ada --json
  personctl watch ada

Run "personctl <command> --help" for a command's flags.
`, ExitOK, ExitError, ExitUsage, ExitRejected, ExitNotFound, ExitConflict, ExitUnavailable)
}

func printCommandUsage(w io.Writer, s spec) {
	fmt.Fprintf(w, "usage: personctl %s %s\n\n%s\n\nFlags:\n", s.name, s.args, s.about)
	fs := flag.NewFlagSet("personctl "+s.name, flag.ContinueOnError)
	fs.SetOutput(w)
	var g globals
	g.bind(fs)
	s.bind(fs)
	fs.PrintDefaults()
}

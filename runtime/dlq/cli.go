package dlq

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
)

// Usage is the help text of [Command].
const Usage = `usage: dlq <command> [arguments]

  list [-policy P] [-person ID] [-limit N] [-json]   parked events, oldest first
  show SEQ...                                         one entry in full (JSON)
  replay SEQ...                                       run the policy again, in order; stops at the first failure
  discard SEQ...                                      remove entries without running anything
`

// Command runs the dead-letter CLI (personctl dlq …) on d: args are the
// words after "dlq". It writes results to stdout and errors to stderr and
// returns the process exit code: 0 on success, 1 when an operation failed,
// 2 for bad usage.
func Command(ctx context.Context, d *DLQ, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage)
		return 2
	}
	switch args[0] {
	case "list":
		return list(ctx, d, args[1:], stdout, stderr)
	case "show":
		return eachSeq(args[1:], stderr, func(seq uint64) error {
			e, err := d.Get(ctx, seq)
			if err != nil {
				return err
			}
			b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(e.Letter)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "# entry %d\n%s\n", seq, b)
			return nil
		})
	case "replay":
		return eachSeq(args[1:], stderr, func(seq uint64) error {
			if err := d.Replay(ctx, seq); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "replayed %d\n", seq)
			return nil
		})
	case "discard":
		return eachSeq(args[1:], stderr, func(seq uint64) error {
			if err := d.Remove(ctx, seq); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "discarded %d\n", seq)
			return nil
		})
	case "help", "-h", "--help":
		fmt.Fprint(stdout, Usage)
		return 0
	default:
		fmt.Fprintf(stderr, "dlq: unknown command %q\n%s", args[0], Usage)
		return 2
	}
}

func list(ctx context.Context, d *DLQ, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dlq list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f Filter
	asJSON := fs.Bool("json", false, "one JSON object per line")
	fs.StringVar(&f.Policy, "policy", "", "only this policy")
	fs.StringVar(&f.PersonID, "person", "", "only this person")
	fs.IntVar(&f.Limit, "limit", 1000, "at most this many entries")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	entries, err := d.List(ctx, f)
	if err != nil {
		fmt.Fprintln(stderr, "dlq list:", err)
		return 1
	}
	if *asJSON {
		for _, e := range entries {
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(e.Letter)
			if err != nil {
				fmt.Fprintln(stderr, "dlq list:", err)
				return 1
			}
			fmt.Fprintf(stdout, "{\"sequence\":%d,\"letter\":%s}\n", e.Sequence, b)
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tPOLICY\tPERSON\tEVENT SEQ\tCODE\tRULE\tATTEMPTS\tLAST FAILURE\tBLOCKED BY")
	for _, e := range entries {
		l := e.Letter
		blocked := "-"
		if l.GetBlockedBy() != 0 {
			blocked = strconv.FormatUint(l.GetBlockedBy(), 10)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", e.Sequence, l.GetPolicy(), l.GetPersonId(), l.GetStreamSequence(),
			strings.TrimPrefix(l.GetCode().String(), "ERROR_CODE_"), l.GetRule(), l.GetAttempts(),
			l.GetLastFailure().AsTime().Format(time.RFC3339), blocked)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, "dlq list:", err)
		return 1
	}
	return 0
}

// eachSeq runs fn on every sequence in args, in order, and stops at the
// first failure.
func eachSeq(args []string, stderr io.Writer, fn func(seq uint64) error) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "dlq: give at least one entry sequence\n", Usage)
		return 2
	}
	for _, a := range args {
		seq, err := strconv.ParseUint(a, 10, 64)
		if err != nil || seq == 0 {
			fmt.Fprintf(stderr, "dlq: %q is not an entry sequence\n", a)
			return 2
		}
		if err := fn(seq); err != nil {
			fmt.Fprintf(stderr, "dlq: entry %d: %v\n", seq, err)
			return 1
		}
	}
	return 0
}

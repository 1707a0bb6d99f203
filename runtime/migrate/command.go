package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	pjs "github.com/cim/personrt/persistence/jetstream"
)

// Exit codes of [Command], in line with personctl's.
const (
	ExitOK          = 0 // done, nothing found wrong
	ExitError       = 1 // any other failure
	ExitUsage       = 2 // bad command line
	ExitProblems    = 3 // the dry run found events that cannot be migrated, or verify found differences
	ExitUnavailable = 6 // no NATS server: retry
)

// DefaultNATSURL is the server Command connects to without --nats-url or
// PERSONCTL_NATS_URL (the one persond embeds by default).
const DefaultNATSURL = "nats://127.0.0.1:4222"

const usage = `usage:
  personctl migrate [--dry-run] [--from URL] [--source STREAM] [--target STREAM]
                    [--resume] [--no-switch] [--finalize] [flags]
  personctl verify  [--sample N] [--target STREAM] [--source STREAM] [--from URL] [flags]

migrate --dry-run   reads the whole source and reports counts per event type and
                    stored shape, the upcasts, every undecodable event and every
                    version gap; exit 3 if anything cannot be migrated.
migrate             copies the source, upcast to the current schema, into the new
                    stream --target (same event ids, versions and metadata), then
                    switches the running nodes to it: fence, seal the source, copy
                    its tail, switch. Resumable after a crash: --resume.
verify              compares source and target per person: decoding at the current
                    schema, counts, contiguous versions, event ids, folded state;
                    exit 3 on any difference.
migrate --finalize  verifies fully and deletes the source.
`

// Command runs "migrate …" or "verify …" (args[0]) as personctl does, and
// returns the exit code. Reports go to stdout, progress and errors to
// stderr: a progress bar when stderr is a terminal, plain lines otherwise.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "migrate" && args[0] != "verify") {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	cmd := args[0]
	fs := flag.NewFlagSet("personctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		natsURL      = fs.String("nats-url", envOr("PERSONCTL_NATS_URL", DefaultNATSURL), "NATS server of the nodes: the new stream, the route and migration records (env PERSONCTL_NATS_URL)")
		from         = fs.String("from", "", "NATS server of the source stream, when it is another one (e.g. the original system's)")
		source       = fs.String("source", "", "source stream (default: the active stream of --route-key)")
		sourcePrefix = fs.String("source-prefix", "", "subject prefix of the source's events (default: the active route's, else person.events)")
		target       = fs.String("target", "", "new stream (required but for a dry run)")
		targetPrefix = fs.String("target-prefix", "", "subject prefix of the new stream (default person.events, or the target's name in lower case when taken)")
		routeKey     = fs.String("route-key", "", "route record the switch moves (default PERSON_EVENTS)")
		payload      = fs.String("payload", pjs.PayloadJSON, "body encoding of the new stream: json or protobuf")
		replicas     = fs.Int("replicas", 1, "replicas of the new stream")
		asJSON       = fs.Bool("json", false, "print the report as JSON")
		timeout      = fs.Duration("timeout", 10*time.Second, "deadline of each server request")
		dryRun       = fs.Bool("dry-run", false, "migrate: report only, write nothing")
		resume       = fs.Bool("resume", false, "migrate: continue the recorded migration to --target")
		noSwitch     = fs.Bool("no-switch", false, "migrate: copy without switching the nodes")
		finalize     = fs.Bool("finalize", false, "migrate: verify fully, then delete the source")
		sample       = fs.Int("sample", 0, "verify: compare a uniform sample of N persons (default all)")
	)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage+"\nflags:\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return ExitOK
		}
		fmt.Fprintf(stderr, "personctl %s: %v\n%s", cmd, err, usage)
		return ExitUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "personctl %s: unexpected arguments %q\n", cmd, fs.Args())
		return ExitUsage
	case cmd == "migrate" && moreThanOne(*dryRun, *resume || *noSwitch, *finalize):
		fmt.Fprintf(stderr, "personctl migrate: --dry-run, --finalize and --resume/--no-switch exclude each other\n")
		return ExitUsage
	case *target == "" && !(cmd == "migrate" && *dryRun):
		fmt.Fprintf(stderr, "personctl %s: --target is required\n", cmd)
		return ExitUsage
	}

	dst, err := nats.Connect(*natsURL, nats.Name("personctl "+cmd), nats.Timeout(*timeout))
	if err != nil {
		fmt.Fprintf(stderr, "personctl %s: connect to %s: %v\n", cmd, redactURL(*natsURL), err)
		return ExitUnavailable
	}
	defer dst.Close()
	src := dst
	if *from != "" && *from != *natsURL {
		if src, err = nats.Connect(*from, nats.Name("personctl "+cmd+" (source)"), nats.Timeout(*timeout)); err != nil {
			fmt.Fprintf(stderr, "personctl %s: connect to the source server %s: %v\n", cmd, redactURL(*from), err)
			return ExitUnavailable
		}
		defer src.Close()
	}
	bar := newProgressView(stderr)
	defer bar.finish()
	m, err := New(Config{
		Source: src, Target: dst,
		SourceStream: *source, SourcePrefix: *sourcePrefix,
		TargetStream: *target, TargetPrefix: *targetPrefix,
		Store:    pjs.Config{Payload: *payload, Replicas: *replicas},
		RouteKey: *routeKey, RequestTimeout: *timeout,
		Progress: bar.update,
	})
	if err != nil {
		fmt.Fprintf(stderr, "personctl %s: %v\n", cmd, err)
		return ExitUsage
	}
	out := output{w: stdout, json: *asJSON}
	switch {
	case cmd == "verify":
		v, err := m.Verify(ctx, VerifyOptions{Sample: *sample})
		return out.verification(stderr, cmd, v, err)
	case *dryRun:
		r, err := m.DryRun(ctx)
		bar.finish()
		if err != nil {
			fmt.Fprintf(stderr, "personctl migrate --dry-run: %v\n", err)
			return ExitError
		}
		if err := out.print(r, r.WriteText); err != nil {
			fmt.Fprintf(stderr, "personctl migrate: %v\n", err)
			return ExitError
		}
		if !r.OK() {
			return ExitProblems
		}
		return ExitOK
	case *finalize:
		v, err := m.Finalize(ctx)
		if v == nil && err == nil {
			fmt.Fprintf(stdout, "the migration to %s is already finalized\n", *target)
			return ExitOK
		}
		return out.verification(stderr, "migrate --finalize", v, err)
	}
	res, err := m.Migrate(ctx, MigrateOptions{Resume: *resume, NoSwitch: *noSwitch})
	bar.finish()
	if res != nil {
		if perr := out.print(res, func(w io.Writer) error { return writeResult(w, res) }); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "personctl migrate: %v\n", err)
		if errors.Is(err, ErrNotMigratable) {
			fmt.Fprintf(stderr, "run personctl migrate --dry-run for every event that cannot be migrated\n")
			return ExitProblems
		}
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "interrupted: continue with personctl migrate --resume --target %s\n", *target)
		}
		return ExitError
	}
	return ExitOK
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func moreThanOne(flags ...bool) bool {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n > 1
}

// output prints reports as text or JSON.
type output struct {
	w    io.Writer
	json bool
}

func (o output) print(v any, text func(io.Writer) error) error {
	if !o.json {
		return text(o.w)
	}
	enc := json.NewEncoder(o.w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// verification prints a verification and returns the exit code.
func (o output) verification(stderr io.Writer, cmd string, v *Verification, err error) int {
	if v != nil {
		if perr := o.print(v, v.WriteText); perr != nil && err == nil {
			err = perr
		}
	}
	switch {
	case errors.Is(err, ErrVerifyFailed) || (err == nil && v != nil && !v.OK()):
		if err != nil {
			fmt.Fprintf(stderr, "personctl %s: %v\n", cmd, err)
		}
		return ExitProblems
	case err != nil:
		fmt.Fprintf(stderr, "personctl %s: %v\n", cmd, err)
		return ExitError
	}
	return ExitOK
}

// writeResult prints what a migration run did.
func writeResult(w io.Writer, r *Result) error {
	st := r.Status
	fmt.Fprintf(w, "%s → %s: %s\n", st.Source, st.Target, st.Phase)
	fmt.Fprintf(w, "this run: %d events written, %d found written before, %.0f events/s over %s\n",
		r.Written, r.Existing, r.EventsPerSec(), r.Elapsed.Round(time.Millisecond))
	if r.Report != nil && r.Report.Upcasts > 0 {
		fmt.Fprintf(w, "upcast: %d events\n", r.Report.Upcasts)
	}
	fmt.Fprintf(w, "checkpoint: source sequence %d; %d events copied in all\n", st.Checkpoint, st.Copied)
	var err error
	switch st.Phase {
	case PhaseSwitched:
		_, err = fmt.Fprintf(w, "the nodes now write to %s; the source %s is sealed and kept:\n  personctl verify --target %s\n  personctl migrate --finalize --target %s\n", st.Target.Stream, st.Source, st.Target.Stream, st.Target.Stream)
	case PhaseCopied:
		_, err = fmt.Fprintf(w, "copied without a switch; check with personctl verify --target %s\n", st.Target.Stream)
	default:
		_, err = fmt.Fprintf(w, "not finished: personctl migrate --resume --target %s\n", st.Target.Stream)
	}
	return err
}

// progressView renders Progress: a progress bar per phase on a terminal,
// a plain line every progressLineEvery (and at the end of each phase)
// otherwise.
type progressView struct {
	w        io.Writer
	tty      bool
	bar      *progressbar.ProgressBar
	phase    string
	lastLine time.Time
}

// progressLineEvery spaces the plain progress lines.
const progressLineEvery = 5 * time.Second

func newProgressView(w io.Writer) *progressView {
	f, ok := w.(*os.File)
	return &progressView{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (v *progressView) update(p Progress) {
	if !v.tty {
		if p.Final || time.Since(v.lastLine) >= progressLineEvery {
			v.lastLine = time.Now()
			pct := 100.0
			if p.Total > 0 {
				pct = 100 * float64(p.Done) / float64(p.Total)
			}
			line := fmt.Sprintf("migrate: %s %d/%d (%.1f%%) %.0f/s", p.Phase, p.Done, p.Total, pct, p.Rate())
			if eta := p.ETA(); eta > 0 && !p.Final {
				line += ", ETA " + eta.Round(time.Second).String()
			}
			if p.Final {
				line += " done in " + p.Elapsed.Round(time.Millisecond).String()
			}
			fmt.Fprintln(v.w, line)
		}
		return
	}
	if v.bar == nil || v.phase != p.Phase {
		v.finish()
		v.phase = p.Phase
		v.bar = progressbar.NewOptions64(int64(max(p.Total, 1)),
			progressbar.OptionSetWriter(v.w),
			progressbar.OptionSetDescription(strings.TrimSpace(p.Phase)),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msgs"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	// Rendering to a terminal: a failed write only loses a frame.
	_ = v.bar.Set64(int64(p.Done))
	if p.Final {
		v.finish()
	}
}

// finish completes the current bar, if any.
func (v *progressView) finish() {
	if v.bar == nil {
		return
	}
	// A failed write to the terminal only loses the last frame.
	_ = v.bar.Finish()
	fmt.Fprintln(v.w)
	v.bar = nil
}

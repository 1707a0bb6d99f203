package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/streamswitch"
)

// Errors of a migration's preconditions.
var (
	// ErrTargetExists is returned by a new migration whose target stream
	// exists already.
	ErrTargetExists = errors.New("migrate: target stream exists")
	// ErrSourceNotFound is returned when the source stream does not exist.
	ErrSourceNotFound = errors.New("migrate: source stream not found")
	// ErrSwitchRefused is returned when the switch would abandon events:
	// the key's active stream is not the source and holds events, or
	// another migration fenced the key.
	ErrSwitchRefused = errors.New("migrate: switch refused")
)

// errSubjectOverlap is the server's code for a stream binding subjects
// another stream binds.
const errSubjectOverlap jetstream.ErrorCode = 10065

// Log attribute keys.
const (
	logSource = "source"
	logTarget = "target"
	logPhase  = "phase"
	logErr    = "err"
)

// Migrator runs dry runs, migrations, verifications and finalizations of
// one source and target (see the package doc). Its methods are safe to
// call one after another; run one at a time.
type Migrator struct {
	cfg   Config
	srcJS jetstream.JetStream
	dstJS jetstream.JetStream
}

// New validates cfg (filling defaults) and returns a Migrator. It does no
// I/O.
func New(cfg Config) (*Migrator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	src, err := jetstream.New(cfg.Source)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	dst, err := jetstream.NewWithAPIPrefix(cfg.Target, cfg.Store.APIPrefix)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return &Migrator{cfg: cfg, srcJS: src, dstJS: dst}, nil
}

// plan is what the names resolve to on the servers.
type plan struct {
	routes       *streamswitch.Routes
	active       streamswitch.Route // the key's active route
	fence        *streamswitch.Fence
	source       string
	sourcePrefix string
	same         bool // the source is on the target's server
}

// resolve reads the route record and fills the source defaults. Only a
// migration (write) creates the routes bucket; a dry run or a verify
// changes nothing on the servers.
func (m *Migrator) resolve(ctx context.Context, write bool) (plan, error) {
	routes, err := streamswitch.OpenRoutes(ctx, m.cfg.Target, streamswitch.RoutesConfig{
		Bucket: m.cfg.RoutesBucket, Replicas: m.cfg.Store.Replicas, MemoryStorage: m.cfg.Store.MemoryStorage, APIPrefix: m.cfg.Store.APIPrefix,
		ReadOnly: !write,
	})
	if err != nil {
		return plan{}, err
	}
	p := plan{routes: routes, active: streamswitch.RouteOf(m.cfg.Store), same: sameServer(m.cfg.Source, m.cfg.Target)}
	rec, _, found, err := routes.Get(ctx, m.cfg.RouteKey)
	if err != nil {
		return plan{}, err
	}
	if found {
		p.active, p.fence = rec.Active, rec.Fence
	}
	p.source, p.sourcePrefix = m.cfg.SourceStream, m.cfg.SourcePrefix
	if p.source == "" {
		p.source = p.active.Stream
	}
	if p.sourcePrefix == "" {
		p.sourcePrefix = streamswitch.DefaultSubjectPrefix
		if p.same && p.source == p.active.Stream {
			p.sourcePrefix = p.active.SubjectPrefix
		}
	}
	return p, nil
}

// sameServer reports whether two connections reach the same streams.
func sameServer(a, b *nats.Conn) bool {
	if a == b {
		return true
	}
	if id := a.ConnectedServerId(); id != "" && id == b.ConnectedServerId() {
		return true
	}
	cl := a.ConnectedClusterName()
	return cl != "" && cl == b.ConnectedClusterName()
}

// sourceStream returns the reader of the source stream.
func (m *Migrator) sourceStream(name string) *stream {
	return &stream{js: m.srcJS, name: name, batch: m.cfg.ReadBatch, timeout: m.cfg.RequestTimeout, log: m.cfg.Logger}
}

// targetStream returns the reader of the new stream.
func (m *Migrator) targetStream(name string) *stream {
	return &stream{js: m.dstJS, name: name, batch: m.cfg.ReadBatch, timeout: m.cfg.RequestTimeout, log: m.cfg.Logger}
}

// sourceInfo returns the source's state, ErrSourceNotFound when missing.
func sourceInfo(ctx context.Context, s *stream) (streamInfo, error) {
	info, err := s.info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return streamInfo{}, fmt.Errorf("%w: %s", ErrSourceNotFound, s.name)
	}
	return info, err
}

// DryRun reads the whole source stream and reports what a migration would
// do and every event it could not migrate (Report.OK false). It writes
// nothing.
func (m *Migrator) DryRun(ctx context.Context) (*Report, error) {
	p, err := m.resolve(ctx, false)
	if err != nil {
		return nil, err
	}
	src := m.sourceStream(p.source)
	info, err := sourceInfo(ctx, src)
	if err != nil {
		return nil, err
	}
	m.cfg.Logger.Info("migrate: dry run", slog.String(logSource, p.source), slog.Uint64("messages", info.msgs))
	t := newTally(p.source, m.cfg.MaxListed)
	versions := map[string]uint64{}
	progress := m.progressFunc("dry-run", info.lastSeq-info.firstSeq+1)
	pipe := startPipeline(ctx, src, info.firstSeq, info.lastSeq, m.cfg.Decoders, func(msg sourceMsg) decoded {
		return decodeSource(msg, p.sourcePrefix)
	})
	var done uint64
	err = pipe.drain(ctx, func(batch []decoded) error {
		for i := range batch {
			d := &batch[i]
			t.message(d)
			if d.kind != kindEvent {
				continue
			}
			id := d.person
			last := versions[id]
			v, ok := nextVersion(last, d)
			if !ok {
				t.gap(Gap{PersonID: id, Seq: d.seq, Want: last + 1, Got: v})
			}
			versions[id] = max(last, v)
		}
		done = batch[len(batch)-1].seq - info.firstSeq + 1
		progress(done, false)
		return nil
	})
	progress(done, true)
	if err != nil {
		return nil, fmt.Errorf("migrate: dry run of %s: %w", p.source, err)
	}
	r := t.report(len(versions))
	if r.Messages == 0 {
		r.FirstSeq, r.LastSeq = info.firstSeq, info.lastSeq
	}
	return r, nil
}

// MigrateOptions choose how Migrate runs.
type MigrateOptions struct {
	// Resume continues the migration to the target recorded before (after
	// a crash or an interruption); without it an existing record is
	// ErrMigrationExists.
	Resume bool
	// NoSwitch copies without switching the route (the source is not
	// sealed; run again with Resume to catch up, or to switch later is not
	// supported: start a new migration).
	NoSwitch bool
}

// Result is the outcome of Migrate.
type Result struct {
	Status Status
	// Report tallies the source messages this run read.
	Report *Report
	// Written counts the events this run wrote; Existing those it found
	// copied already by an earlier run.
	Written  uint64
	Existing uint64
	Elapsed  time.Duration
}

// EventsPerSec is the write rate of the run.
func (r *Result) EventsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Written) / r.Elapsed.Seconds()
}

// Migrate copies the source into the new stream, every event upcast to the
// current schema, and then (unless NoSwitch, or when the new stream is
// already the active one) switches the route: fence, seal the source, copy
// its tail, make the new stream active. It is resumable at every step
// (Resume), and writes each event at most once whatever the crashes.
func (m *Migrator) Migrate(ctx context.Context, opts MigrateOptions) (*Result, error) {
	start := time.Now()
	if m.cfg.TargetStream == "" {
		return nil, fmt.Errorf("%w: rule config.target_stream: a target stream is required", ErrInvalidConfig)
	}
	p, err := m.resolve(ctx, true)
	if err != nil {
		return nil, err
	}
	state, err := m.state(ctx, true)
	if err != nil {
		return nil, err
	}
	st, found, err := state.load(ctx)
	switch {
	case err != nil:
		return nil, err
	case found && !opts.Resume:
		return nil, fmt.Errorf("%w: %s → %s is %s (resume it, or verify and finalize it)", ErrMigrationExists, st.Source, st.Target.Stream, st.Phase)
	case !found && opts.Resume:
		return nil, fmt.Errorf("%w: %s", ErrNoMigration, m.cfg.TargetStream)
	case found && st.SourceServer != "" && m.cfg.Source == m.cfg.Target:
		return nil, fmt.Errorf("%w: rule resume.source_server: the source %s is on %s: connect to it (--from)", ErrInvalidConfig, st.Source, st.SourceServer)
	}
	if !found {
		if st, err = m.start(ctx, p, opts); err != nil {
			return nil, err
		}
		if err := state.save(ctx, st); err != nil {
			return nil, err
		}
	}
	src := m.sourceStream(st.Source)
	if _, err := sourceInfo(ctx, src); err != nil {
		return nil, err
	}
	t := newTally(st.Source, m.cfg.MaxListed)
	c, err := newCopier(&m.cfg, st.Target, found, t)
	if err != nil {
		return nil, err
	}
	defer c.close()
	res := &Result{}
	baseCopied := st.Copied
	save := func(ctx context.Context, checkpoint uint64) error {
		st.Checkpoint, st.Copied = checkpoint, baseCopied+c.copied
		return state.save(ctx, st)
	}
	setPhase := func(ctx context.Context, phase Phase) error {
		m.cfg.Logger.Info("migrate: phase", slog.String(logSource, st.Source), slog.String(logTarget, st.Target.Stream), slog.String(logPhase, string(phase)))
		st.Phase = phase
		return save(ctx, st.Checkpoint)
	}
	finish := func(err error) (*Result, error) {
		res.Status, res.Report, res.Written, res.Existing, res.Elapsed = st, t.report(len(c.persons)), c.copied, c.existing, time.Since(start)
		return res, err
	}

	if st.Phase == PhaseCopying {
		if err := m.catchUp(ctx, c, src, &st, save); err != nil {
			return finish(err)
		}
		if st.From == nil {
			return finish(setPhase(ctx, PhaseCopied))
		}
		if _, err := p.routes.Fence(ctx, st.RouteKey, *st.From, st.Target, fmt.Sprintf("personctl migrate %s → %s", st.Source, st.Target.Stream), time.Now()); err != nil {
			return finish(fmt.Errorf("%w: %w", ErrSwitchRefused, err))
		}
		if err := setPhase(ctx, PhaseFenced); err != nil {
			return finish(err)
		}
	}
	if st.Phase == PhaseFenced {
		if err := m.seal(ctx, src); err != nil {
			// Nothing is sealed: lift the fence so that writers go on.
			if _, uerr := p.routes.Unfence(ctx, st.RouteKey); uerr != nil {
				err = errors.Join(err, uerr)
			} else if perr := setPhase(ctx, PhaseCopying); perr != nil {
				err = errors.Join(err, perr)
			}
			return finish(err)
		}
		if err := setPhase(ctx, PhaseSealed); err != nil {
			return finish(err)
		}
	}
	if st.Phase == PhaseSealed {
		info, err := sourceInfo(ctx, src) // final: the stream is sealed
		if err != nil {
			return finish(err)
		}
		if err := c.copyRange(ctx, src, st.SourcePrefix, st.Checkpoint+1, info.lastSeq, save, m.progressFunc("tail", info.lastSeq-st.Checkpoint)); err != nil {
			return finish(err)
		}
		if _, err := p.routes.Switch(ctx, st.RouteKey, st.Target); err != nil {
			return finish(err)
		}
		if err := setPhase(ctx, PhaseSwitched); err != nil {
			return finish(err)
		}
	}
	return finish(nil)
}

// catchUp copies the source from the checkpoint to its end, again while
// writers appended during the previous round, at most CatchUpRounds times.
func (m *Migrator) catchUp(ctx context.Context, c *copier, src *stream, st *Status, save func(context.Context, uint64) error) error {
	for round := range m.cfg.CatchUpRounds {
		info, err := sourceInfo(ctx, src)
		if err != nil {
			return err
		}
		if st.Checkpoint >= info.lastSeq {
			return nil
		}
		phase := "copy"
		if round > 0 {
			phase = fmt.Sprintf("catch-up %d", round)
		}
		if err := c.copyRange(ctx, src, st.SourcePrefix, st.Checkpoint+1, info.lastSeq, save, m.progressFunc(phase, info.lastSeq-st.Checkpoint)); err != nil {
			return err
		}
	}
	return nil
}

// start checks a new migration's preconditions, creates the new stream
// and returns its record.
func (m *Migrator) start(ctx context.Context, p plan, opts MigrateOptions) (Status, error) {
	src := m.sourceStream(p.source)
	if _, err := sourceInfo(ctx, src); err != nil {
		return Status{}, err
	}
	target := streamswitch.Route{Stream: m.cfg.TargetStream, SubjectPrefix: m.cfg.TargetPrefix, SnapshotBucket: m.cfg.TargetSnapshotBucket}
	if target.SnapshotBucket == "" {
		target.SnapshotBucket = target.Stream + "_SNAPSHOTS"
		if target.Stream == streamswitch.DefaultStream {
			target.SnapshotBucket = streamswitch.DefaultSnapshotBucket
		}
	}
	if p.same && target.Stream == p.source {
		return Status{}, fmt.Errorf("%w: rule config.distinct: the target is the source %s", ErrInvalidConfig, p.source)
	}
	switch _, err := m.dstJS.Stream(ctx, target.Stream); {
	case err == nil:
		return Status{}, fmt.Errorf("%w: %s (migrations write a new stream)", ErrTargetExists, target.Stream)
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return Status{}, fmt.Errorf("migrate: target %s: %w", target.Stream, err)
	}
	st := Status{
		Source: p.source, SourcePrefix: p.sourcePrefix, RouteKey: m.cfg.RouteKey,
		Phase: PhaseCopying, StartedAt: time.Now().UTC(),
	}
	if !p.same {
		st.SourceServer = redactURL(m.cfg.Source.ConnectedUrl())
	}
	if !opts.NoSwitch && target.Stream != p.active.Stream {
		if err := m.checkSwitch(ctx, p); err != nil {
			return Status{}, err
		}
		from := p.active
		st.From = &from
	}
	var err error
	if st.Target, err = m.createTarget(ctx, target); err != nil {
		return Status{}, err
	}
	m.cfg.Logger.Info("migrate: new stream", slog.String(logSource, p.source), slog.String(logTarget, st.Target.String()), slog.Bool("switch", st.From != nil))
	return st, nil
}

// checkSwitch refuses a switch that would abandon events or cross another
// migration.
func (m *Migrator) checkSwitch(ctx context.Context, p plan) error {
	if p.fence != nil {
		return fmt.Errorf("%w: rule switch.one_migration: %s is fenced for a switch to %s by %q", ErrSwitchRefused, m.cfg.RouteKey, p.fence.Target, p.fence.By)
	}
	if p.same && p.source == p.active.Stream {
		return nil
	}
	switch st, err := m.dstJS.Stream(ctx, p.active.Stream); {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("migrate: active stream %s: %w", p.active.Stream, err)
	case st.CachedInfo().State.Msgs > 0:
		return fmt.Errorf("%w: rule switch.active_is_source: the active stream %s holds %d events that are not in the source %s (migrate it instead, or --no-switch)",
			ErrSwitchRefused, p.active.Stream, st.CachedInfo().State.Msgs, p.source)
	}
	return nil
}

// createTarget creates the new stream as the nodes' store would, choosing
// the default subject prefix, and drops a stale snapshot bucket of the
// same name (its snapshots point into another stream).
func (m *Migrator) createTarget(ctx context.Context, r streamswitch.Route) (streamswitch.Route, error) {
	auto := r.SubjectPrefix == ""
	if auto {
		r.SubjectPrefix = streamswitch.DefaultSubjectPrefix
	}
	for {
		_, err := m.dstJS.CreateStream(ctx, pjs.StreamConfig(r.Config(m.cfg.Store)))
		var ae *jetstream.APIError
		if auto && errors.As(err, &ae) && ae.ErrorCode == errSubjectOverlap && r.SubjectPrefix == streamswitch.DefaultSubjectPrefix {
			r.SubjectPrefix = strings.ToLower(r.Stream)
			continue
		}
		if err != nil {
			return r, fmt.Errorf("migrate: create %s: %w", r, err)
		}
		break
	}
	if err := m.dstJS.DeleteKeyValue(ctx, r.SnapshotBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return r, fmt.Errorf("migrate: drop the stale snapshot bucket %s: %w", r.SnapshotBucket, err)
	}
	return r, nil
}

// seal seals the source stream: the server refuses every write to it from
// then on (the hard half of the fence).
func (m *Migrator) seal(ctx context.Context, src *stream) error {
	info, err := sourceInfo(ctx, src)
	if err != nil || info.sealed {
		return err
	}
	cfg := info.config
	cfg.Sealed = true
	if _, err := m.srcJS.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("migrate: seal %s: %w", src.name, err)
	}
	return nil
}

// state opens the migration record of the target; without write, a
// missing bucket reads as no record (nothing is created).
func (m *Migrator) state(ctx context.Context, write bool) (*stateStore, error) {
	if !write {
		kv, err := m.dstJS.KeyValue(ctx, m.cfg.StateBucket)
		if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("migrate: bucket %s: %w", m.cfg.StateBucket, err)
		}
		return &stateStore{kv: kv, key: m.cfg.TargetStream}, nil
	}
	storage := jetstream.FileStorage
	if m.cfg.Store.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	kv, err := m.dstJS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      m.cfg.StateBucket,
		Description: "migration records (personctl migrate): checkpoint and phase per target stream",
		History:     8,
		Storage:     storage,
		Replicas:    max(m.cfg.Store.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: open bucket %s: %w", m.cfg.StateBucket, err)
	}
	return &stateStore{kv: kv, key: m.cfg.TargetStream}, nil
}

// Status returns the migration record of the target stream.
func (m *Migrator) Status(ctx context.Context) (Status, error) {
	state, err := m.state(ctx, false)
	if err != nil {
		return Status{}, err
	}
	st, found, err := state.load(ctx)
	if err == nil && !found {
		err = fmt.Errorf("%w: %s", ErrNoMigration, m.cfg.TargetStream)
	}
	return st, err
}

// ErrNotSwitched is returned by Finalize for a migration that has not
// switched (or finished copying) yet.
var ErrNotSwitched = errors.New("migrate: migration not switched")

// Finalize verifies the migration to TargetStream fully and, when the
// streams agree, deletes the source stream and the snapshot bucket of the
// route the switch left. It returns the verification (ErrVerifyFailed and
// nothing deleted on a difference), or nil when the migration is already
// finalized.
func (m *Migrator) Finalize(ctx context.Context) (*Verification, error) {
	if m.cfg.TargetStream == "" {
		return nil, fmt.Errorf("%w: rule config.target_stream: a target stream is required", ErrInvalidConfig)
	}
	state, err := m.state(ctx, true)
	if err != nil {
		return nil, err
	}
	st, found, err := state.load(ctx)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, fmt.Errorf("%w: %s", ErrNoMigration, m.cfg.TargetStream)
	case st.Phase == PhaseFinalized:
		return nil, nil
	case st.Phase != PhaseSwitched && st.Phase != PhaseCopied:
		return nil, fmt.Errorf("%w: rule finalize.switched: %s → %s is %s (resume it first)", ErrNotSwitched, st.Source, st.Target.Stream, st.Phase)
	case st.SourceServer != "" && m.cfg.Source == m.cfg.Target:
		return nil, fmt.Errorf("%w: rule finalize.source_server: the source %s is on %s: connect to it (--from)", ErrInvalidConfig, st.Source, st.SourceServer)
	}
	v, err := m.verify(ctx, st.Source, st.SourcePrefix, st.Target.SubjectPrefix, VerifyOptions{})
	if err != nil {
		return nil, err
	}
	if !v.OK() {
		return v, fmt.Errorf("%w: %d (the source %s is kept)", ErrVerifyFailed, v.DifferenceCount, st.Source)
	}
	if err := m.srcJS.DeleteStream(ctx, st.Source); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return v, fmt.Errorf("migrate: delete the source %s: %w", st.Source, err)
	}
	if st.From != nil && st.From.Stream == st.Source && st.SourceServer == "" {
		if err := m.dstJS.DeleteKeyValue(ctx, st.From.SnapshotBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return v, fmt.Errorf("migrate: delete the old snapshot bucket %s: %w", st.From.SnapshotBucket, err)
		}
	}
	m.cfg.Logger.Info("migrate: finalized", slog.String(logSource, st.Source), slog.String(logTarget, st.Target.Stream))
	st.Phase = PhaseFinalized
	return v, state.save(ctx, st)
}

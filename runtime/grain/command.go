package grain

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// command serves one command and answers the caller with a
// *personv1.CommandReply: at once, also when the kind panicked.
func (g *grain[S]) command(ctx actor.Context, cmd *personv1.Command) {
	start := time.Now()
	id := g.id()
	ev := CommandHandled{Kind: g.h.kind.Name, ID: id, CommandID: cmd.GetCommandId(), CommandType: g.h.names.command(cmd)}
	res, err := g.handle(cmd, &ev)
	reply := &personv1.CommandReply{}
	if err != nil {
		we := wireError(err, id)
		reply.Reply = &personv1.CommandReply_Error{Error: we}
		ev.Code, ev.Version = we.GetCode(), g.version
	} else {
		reply.Reply = &personv1.CommandReply_Result{Result: res}
		ev.Version, ev.Events, ev.Duplicate = res.GetVersion(), len(res.GetEvents()), res.GetDuplicate()
	}
	ev.Took = time.Since(start)
	// Report before replying: whoever got the reply can see the events.
	panicked := g.reportPanic(err)
	observe(g.h, ev)
	ctx.Respond(reply)
	switch {
	case panicked:
		g.restart()
	case err == nil:
		g.maybeSnapshot()
	}
}

// handle decides, appends and applies cmd, deciding again after a lost
// append, and returns the result to reply.
func (g *grain[S]) handle(cmd *personv1.Command, ev *CommandHandled) (*personv1.CommandResult, error) {
	if err := g.check(cmd, ev.CommandType); err != nil {
		return nil, err
	}
	if err := g.ready(); err != nil {
		return nil, err
	}
	if res, ok, err := g.duplicate(cmd.GetCommandId()); ok || err != nil {
		return res, err
	}
	for attempt := 1; ; attempt++ {
		now := g.h.cfg.Now()
		events, err := g.decide(cmd, now)
		if err != nil {
			return nil, err
		}
		if len(events) == 0 {
			return &personv1.CommandResult{PersonId: g.id(), Version: g.version}, nil
		}
		envs := g.envelopes(cmd, events, now)
		err = g.append(envs)
		if err == nil {
			for _, e := range envs {
				if err := g.apply(e); err != nil {
					return nil, err
				}
			}
			// duplicate found no entry for the command since the last catch-up.
			g.window.add(cmd.GetCommandId(), envs[0].GetVersion(), g.version, g.h.cfg.IdempotencyWindow)
			return &personv1.CommandResult{PersonId: g.id(), Version: g.version, Events: envs}, nil
		}
		// Another writer appended first, or the outcome is unknown (a
		// transport error after which the events may be stored): read the
		// store before deciding anything again.
		g.set(stale, true)
		if !errors.Is(err, persistence.ErrConflict) {
			return nil, err
		}
		ev.Conflicts++
		if attempt > g.h.cfg.MaxConflictRetries {
			g.h.cfg.Logger.Info("command lost every append", slog.String(logKind, g.h.kind.Name), slog.String(logID, g.id()), slog.String(logCommandID, cmd.GetCommandId()), slog.Int("attempts", attempt))
			return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_CONFLICT, "append.expected_version",
				"%s %s lost %d appends to other writers; retry with the same command id", g.h.kind.Name, g.id(), attempt)
		}
		observe(g.h, ConflictRetried{Kind: g.h.kind.Name, ID: g.id(), CommandID: cmd.GetCommandId(), Expected: g.version, Attempt: attempt})
		if err := g.ready(); err != nil {
			return nil, err
		}
		if res, ok, err := g.duplicate(cmd.GetCommandId()); ok || err != nil {
			return res, err
		}
	}
}

// check rejects a command the shell cannot route or deduplicate; typ is
// its type name.
func (g *grain[S]) check(cmd *personv1.Command, typ string) error {
	switch {
	case cmd.GetCommandId() == "":
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "command.command_id", "a command needs a command id")
	case cmd.GetPersonId() != g.id():
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "command.person_id", "command for %q reached grain %q", cmd.GetPersonId(), g.id())
	case typ == "":
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "command.body", "command %s has no body", cmd.GetCommandId())
	}
	return nil
}

// decide runs the kind's Decide; a plain error becomes INTERNAL, a panic a
// *panicError.
func (g *grain[S]) decide(cmd *personv1.Command, now time.Time) (events []*personv1.Event, err error) {
	defer g.recoverInto("decide", &err)
	events, err = g.h.kind.Decide(g.state, cmd, now)
	if err != nil {
		return nil, personv1.AsError(err, g.id())
	}
	return events, nil
}

// envelopes wraps the events of cmd for versions g.version+1, +2, …
func (g *grain[S]) envelopes(cmd *personv1.Command, events []*personv1.Event, now time.Time) []*personv1.EventEnvelope {
	id := g.id()
	correlation := cmd.GetCorrelationId()
	if correlation == "" {
		correlation = cmd.GetCommandId()
	}
	envs := make([]*personv1.EventEnvelope, len(events))
	for i, e := range events {
		typ := g.h.names.event(e)
		envs[i] = &personv1.EventEnvelope{
			EventId:       newEventID(now),
			PersonId:      id,
			Version:       g.version + uint64(i) + 1,
			Type:          typ,
			SchemaVersion: g.h.kind.SchemaVersion(typ),
			OccurredAt:    timestamppb.New(now),
			CorrelationId: correlation,
			CausationId:   cmd.GetCommandId(),
			Actor:         cmd.GetActor(),
			Event:         e,
		}
	}
	return envs
}

// append stores envs after g.version.
func (g *grain[S]) append(envs []*personv1.EventEnvelope) error {
	ctx, err := g.storeCtx()
	if err != nil {
		return err
	}
	if _, err := g.h.cfg.Events.Append(ctx, g.id(), g.version, envs); err != nil {
		return fmt.Errorf("append %s %s@%d: %w", g.h.kind.Name, g.id(), g.version, err)
	}
	return nil
}

// duplicate returns the first result of command id when the idempotency
// window holds it: its events, read back from the store, marked duplicate.
func (g *grain[S]) duplicate(cmdID string) (*personv1.CommandResult, bool, error) {
	sp, ok := g.window.lookup(cmdID)
	if !ok {
		return nil, false, nil
	}
	ctx, err := g.storeCtx()
	if err != nil {
		return nil, true, err
	}
	id := g.id()
	events := make([]*personv1.EventEnvelope, 0, sp.last-sp.first+1)
	err = g.h.cfg.Events.Load(ctx, id, sp.first, func(e *personv1.EventEnvelope) error {
		if e.GetVersion() > sp.last {
			return errStopLoad
		}
		if e.GetVersion() != sp.first+uint64(len(events)) || e.GetCausationId() != cmdID {
			return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "grain.first_result",
				"command %s wrote versions %d..%d, the store has %s@%d caused by %q", cmdID, sp.first, sp.last, id, e.GetVersion(), e.GetCausationId())
		}
		events = append(events, e)
		return nil
	})
	if err != nil && !errors.Is(err, errStopLoad) {
		return nil, true, fmt.Errorf("load first result of command %s: %w", cmdID, err)
	}
	if want := sp.last - sp.first + 1; uint64(len(events)) != want {
		return nil, true, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "grain.first_result",
			"command %s wrote versions %d..%d, the store has %d of them", cmdID, sp.first, sp.last, len(events))
	}
	return &personv1.CommandResult{PersonId: id, Version: sp.last, Events: events, Duplicate: true}, true, nil
}

// maybeSnapshot hands a snapshot to the writer when an event applied since
// the last one reached a multiple of SnapshotEvery.
func (g *grain[S]) maybeSnapshot() {
	w := g.h.writer
	if w == nil || !g.is(loaded) || !g.is(snapshotDue) {
		return
	}
	id := g.id()
	b, err := g.encodeSnapshot()
	if err == nil {
		b, err = wrapSnapshot(b, &g.window)
	}
	if err != nil {
		// Do not try again before the next multiple of SnapshotEvery.
		g.set(snapshotDue, false)
		var p *panicError
		if errors.As(err, &p) {
			g.h.cfg.Logger.Error("snapshot encoding panicked", slog.String(logKind, g.h.kind.Name), slog.String(logID, id), slog.Any("panic", p.value), slog.String("stack", string(p.stack)))
			observe(g.h, Panicked{Kind: g.h.kind.Name, ID: id, Phase: p.phase, Value: p.value, Stack: p.stack})
		}
		observe(g.h, SnapshotFailed{Kind: g.h.kind.Name, ID: id, Version: g.version, Err: err})
		return
	}
	s := persistence.Snapshot{PersonID: id, Version: g.version, SchemaVersion: storedSchemaVersion(g.h.kind.Snapshot.SchemaVersion), State: b}
	if !w.enqueue(s) {
		observe(g.h, SnapshotFailed{Kind: g.h.kind.Name, ID: id, Version: g.version, Err: ErrSnapshotQueueFull})
		return
	}
	g.set(snapshotDue, false)
}

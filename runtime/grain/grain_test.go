package grain_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
	"github.com/cim/personrt/runtime/grain"
)

func TestCommands(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{})
	ctx := t.Context()
	id := newID()

	created := create(id, "Ada")
	res, err := n.client.Execute(ctx, created)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.GetVersion(), uint64(1); got != want {
		t.Fatalf("version after create = %d, want %d", got, want)
	}
	env := res.GetEvents()[0]
	checkEnvelope(t, env, created, 1)

	t.Run("envelope ids and correlation", func(t *testing.T) {
		cmd := rename(id, "Grace", "typo")
		cmd.CorrelationId, cmd.Actor = "corr-1", "alice"
		res, err := n.client.Execute(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		e := res.GetEvents()[0]
		checkEnvelope(t, e, cmd, 2)
		if got, want := e.GetCorrelationId(), "corr-1"; got != want {
			t.Errorf("correlation id = %q, want %q", got, want)
		}
		if got, want := e.GetActor(), "alice"; got != want {
			t.Errorf("actor = %q, want %q", got, want)
		}
	})

	tests := []struct {
		name    string
		cmd     *personv1.Command
		wantErr error
		wantVer uint64
	}{
		{name: "rejection keeps its code", cmd: create(id, "Again"), wantErr: personv1.ErrAlreadyExists},
		{name: "no events is a no-op", cmd: rename(id, "Grace", ""), wantVer: 2},
		{name: "rename", cmd: rename(id, "Hedy", ""), wantVer: 3},
		{name: "unknown person", cmd: rename(newID(), "X", ""), wantErr: personv1.ErrNotFound},
		{name: "missing body", cmd: &personv1.Command{CommandId: newID(), PersonId: id}, wantErr: personv1.ErrInvalidArgument},
		{name: "bad person id", cmd: rename("no spaces", "X", ""), wantErr: personv1.ErrInvalidArgument},
		{name: "unimplemented command", cmd: &personv1.Command{CommandId: newID(), PersonId: id, Body: &personv1.Command_ArchivePerson{ArchivePerson: &personv1.ArchivePerson{}}}, wantErr: personv1.ErrUnimplemented},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := n.client.Execute(ctx, tc.cmd)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				var pe *personv1.Error
				if !errors.As(err, &pe) || pe.GetRule() == "" {
					t.Errorf("error %v names no rule", err)
				}
				return
			}
			if got := res.GetVersion(); got != tc.wantVer {
				t.Errorf("version = %d, want %d", got, tc.wantVer)
			}
		})
	}

	t.Run("idempotent retry returns the first result", func(t *testing.T) {
		cmd := rename(id, "Lise", "")
		first, err := n.client.Execute(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		again, err := n.client.Execute(ctx, rename(id, "Other", "")) // moves the person on
		if err != nil {
			t.Fatal(err)
		}
		retry := rename(id, "Lise", "")
		retry.CommandId = cmd.GetCommandId()
		got, err := n.client.Execute(ctx, retry)
		if err != nil {
			t.Fatal(err)
		}
		if !got.GetDuplicate() || got.GetVersion() != first.GetVersion() || len(got.GetEvents()) != 1 ||
			got.GetEvents()[0].GetEventId() != first.GetEvents()[0].GetEventId() {
			t.Errorf("retry = %v, want the first result %v marked duplicate", got, first)
		}
		if n := len(stored(t, es, id)); uint64(n) != again.GetVersion() {
			t.Errorf("stored %d events after the retry, want %d", n, again.GetVersion())
		}
	})

	t.Run("query", func(t *testing.T) {
		snap, err := n.client.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := snap.GetName().GetGivenNames()[0], "Other"; got != want {
			t.Errorf("name = %q, want %q", got, want)
		}
		if _, err := n.client.Get(ctx, newID()); !errors.Is(err, personv1.ErrNotFound) {
			t.Errorf("get unknown: err = %v, want NOT_FOUND", err)
		}
		if _, err := n.client.Ask(ctx, "person", id, &personv1.Date{Year: 1}); !errors.Is(err, personv1.ErrUnimplemented) {
			t.Errorf("unknown query: err = %v, want UNIMPLEMENTED", err)
		}
	})
}

// checkEnvelope checks the envelope fields the shell fills for cmd.
func checkEnvelope(t *testing.T, e *personv1.EventEnvelope, cmd *personv1.Command, version uint64) {
	t.Helper()
	if e.GetEventId() == "" || e.GetPersonId() != cmd.GetPersonId() || e.GetVersion() != version ||
		e.GetType() != e.GetEvent().TypeName() || e.GetSchemaVersion() == 0 || e.GetOccurredAt() == nil ||
		e.GetCausationId() != cmd.GetCommandId() {
		t.Errorf("envelope %v does not match command %s at version %d", e, cmd.GetCommandId(), version)
	}
	if cmd.GetCorrelationId() == "" && e.GetCorrelationId() != cmd.GetCommandId() {
		t.Errorf("correlation id = %q, want the command id %q", e.GetCorrelationId(), cmd.GetCommandId())
	}
}

// A second activation of the same person (as during a rebalance, or on a
// node with another view of the cluster) writes behind the first one's back:
// the first one's append loses, it reads the new event, decides again and
// wins; no update is lost.
func TestConflictRetried(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{})
	ctx := t.Context()
	id := newID()

	if _, err := n.client.Execute(ctx, create(id, "Ada")); err != nil {
		t.Fatal(err)
	}
	other := n.secondActivation(t, id)
	if _, err := other.execute(rename(id, "Grace", "")); err != nil {
		t.Fatal(err)
	}
	res, err := n.client.Execute(ctx, rename(id, "Hedy", ""))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.GetVersion(), uint64(3); got != want {
		t.Errorf("version = %d, want %d", got, want)
	}
	h, ok := last[grain.CommandHandled](n.rec, id)
	if !ok || h.Conflicts != 1 {
		t.Errorf("handled %+v, want 1 conflict", h)
	}
	if got := n.rec.count(func(e grain.LifecycleEvent) bool { _, ok := e.(grain.ConflictRetried); return ok }); got != 1 {
		t.Errorf("%d ConflictRetried events, want 1", got)
	}
	var types []string
	for _, e := range stored(t, es, id) {
		types = append(types, e.GetType())
	}
	if got, want := len(types), 3; got != want {
		t.Fatalf("stored %v, want 3 events", types)
	}
	snap, err := n.client.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := snap.GetName().GetGivenNames()[0], "Hedy"; got != want {
		t.Errorf("name = %q, want %q", got, want)
	}
}

func TestConflictRetriesExhausted(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{MaxConflictRetries: -1})
	ctx := t.Context()
	id := newID()
	if _, err := n.client.Execute(ctx, create(id, "Ada")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.secondActivation(t, id).execute(rename(id, "Grace", "")); err != nil {
		t.Fatal(err)
	}
	cmd := rename(id, "Hedy", "")
	_, err := n.client.Execute(ctx, cmd)
	if !errors.Is(err, personv1.ErrConflict) {
		t.Fatalf("err = %v, want CONFLICT", err)
	}
	// The lost append made the grain read the store: the retry wins.
	res, err := n.client.Execute(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.GetVersion(), uint64(3); got != want {
		t.Errorf("version = %d, want %d", got, want)
	}
}

// Two activations of one person write concurrently: every acknowledged
// command is stored exactly once.
func TestNoLostUpdates(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{MaxConflictRetries: 100})
	ctx := t.Context()
	id := newID()
	if _, err := n.client.Execute(ctx, create(id, "start")); err != nil {
		t.Fatal(err)
	}
	other := n.secondActivation(t, id)
	writers := []func(*personv1.Command) error{
		func(c *personv1.Command) error { _, err := n.client.Execute(ctx, c); return err },
		func(c *personv1.Command) error { _, err := other.execute(c); return err },
	}
	const perWriter = 30
	var wg sync.WaitGroup
	acked := make(chan string, len(writers)*perWriter)
	for i, write := range writers {
		wg.Go(func() {
			for j := range perWriter {
				cmd := rename(id, fmt.Sprintf("w%d-%d", i, j), "")
				if err := write(cmd); err != nil {
					t.Errorf("writer %d command %d: %v", i, j, err)
					continue
				}
				acked <- cmd.GetCommandId()
			}
		})
	}
	wg.Wait()
	close(acked)
	causes := map[string]int{}
	for _, e := range stored(t, es, id) {
		causes[e.GetCausationId()]++
	}
	for cid := range acked {
		if causes[cid] != 1 {
			t.Errorf("acknowledged command %s stored %d times", cid, causes[cid])
		}
	}
	if got, want := len(causes), len(writers)*perWriter+1; got != want {
		t.Errorf("stored %d commands, want %d", got, want)
	}
	if got := n.rec.count(func(e grain.LifecycleEvent) bool { _, ok := e.(grain.ConflictRetried); return ok }); got == 0 {
		t.Log("no conflict happened: the writers did not interleave")
	}
}

// A lost acknowledgement answers UNAVAILABLE; the client retries with the
// same command id and gets the stored result, written once.
func TestLostAckRetriedOnce(t *testing.T) {
	mem := newStore(t)
	es := &gatedStore{EventStore: mem}
	n := startNode(t, es, mem, grain.Config{})
	ctx := t.Context()
	id := newID()
	es.mu.Lock()
	es.loseAcks = 1
	es.mu.Unlock()
	res, err := n.client.Execute(ctx, create(id, "Ada"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.GetDuplicate() || res.GetVersion() != 1 || len(res.GetEvents()) != 1 {
		t.Errorf("result = %v, want the stored create marked duplicate", res)
	}
	if got := len(stored(t, mem, id)); got != 1 {
		t.Errorf("stored %d events, want 1", got)
	}
}

// A panic in Decide is answered with INTERNAL at once; the grain re-hydrates
// and the next command works on the stored state.
func TestPanicAnsweredAtOnce(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{})
	ctx := t.Context()
	id := newID()
	if _, err := n.client.Execute(ctx, create(id, "Ada")); err != nil {
		t.Fatal(err)
	}
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := n.client.Execute(callCtx, rename(id, "Boom", panicReason))
	took := time.Since(start)
	if !errors.Is(err, personv1.ErrInternal) {
		t.Fatalf("err = %v, want INTERNAL", err)
	}
	if took > time.Second {
		t.Errorf("panic answered after %v, want well under the 5s timeout", took)
	}
	if _, ok := last[grain.Panicked](n.rec, id); !ok {
		t.Error("no Panicked event")
	}
	// The grain re-hydrates right after answering.
	waitFor(t, "re-hydration", func() bool {
		a, ok := last[grain.Activated](n.rec, id)
		return ok && a.Restart && a.Version == 1
	})
	res, err := n.client.Execute(ctx, rename(id, "Grace", ""))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.GetVersion(), uint64(2); got != want {
		t.Errorf("version after the panic = %d, want %d", got, want)
	}
}

// An idle grain passivates; its state stays in the host's cache and the
// re-activation reads only the events written meanwhile.
func TestPassivation(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{IdleTimeout: 20 * time.Millisecond})
	ctx := t.Context()
	id := newID()
	if _, err := n.client.Execute(ctx, create(id, "Ada")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.Execute(ctx, rename(id, "Grace", "")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "passivation", func() bool {
		p, ok := last[grain.Passivated](n.rec, id)
		return ok && p.Cached && p.Version == 2
	})
	// Another writer appends while the grain is passive.
	env := &personv1.EventEnvelope{EventId: newID(), PersonId: id, Version: 3, Type: "NameUpdated", SchemaVersion: testKind().SchemaVersion("NameUpdated"),
		Event: &personv1.Event{Body: &personv1.Event_NameUpdated{NameUpdated: &personv1.NameUpdated{NewName: &personv1.PersonName{GivenNames: []string{"Hedy"}}}}}}
	if _, err := es.Append(ctx, id, 2, []*personv1.EventEnvelope{env}); err != nil {
		t.Fatal(err)
	}
	snap, err := n.client.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := snap.GetName().GetGivenNames()[0], "Hedy"; got != want || snap.GetVersion() != 3 {
		t.Errorf("after re-activation: name %q version %d, want %q version 3", got, snap.GetVersion(), want)
	}
	a, ok := last[grain.Activated](n.rec, id)
	if !ok || !a.Cached || a.Replayed != 1 {
		t.Errorf("re-activation = %+v, want cached with 1 replayed event", a)
	}
}

// Every SnapshotEvery events a snapshot is written off the command path;
// an activation without a cached state starts from it.
func TestSnapshots(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{IdleTimeout: 20 * time.Millisecond, SnapshotEvery: 3, StateCacheSize: -1})
	ctx := t.Context()
	id := newID()
	cmds := []*personv1.Command{create(id, "n0"), rename(id, "n1", ""), rename(id, "n2", ""), rename(id, "n3", "")}
	for _, c := range cmds {
		if _, err := n.client.Execute(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "snapshot at 3", func() bool {
		s, ok := last[grain.SnapshotSaved](n.rec, id)
		return ok && s.Version == 3
	})
	snap, err := es.LoadSnapshot(ctx, id)
	if err != nil || snap.Version != 3 {
		t.Fatalf("stored snapshot = %+v, %v; want version 3", snap, err)
	}
	waitFor(t, "passivation", func() bool {
		_, ok := last[grain.Passivated](n.rec, id)
		return ok
	})
	got, err := n.client.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName().GetGivenNames()[0] != "n3" || got.GetVersion() != 4 {
		t.Errorf("state = %v, want n3 at version 4", got)
	}
	a, ok := last[grain.Activated](n.rec, id)
	if !ok || a.Cached || a.SnapshotVersion != 3 || a.Replayed != 1 {
		t.Errorf("activation = %+v, want snapshot 3 plus 1 replayed event", a)
	}
}

// Snapshots sit at multiples of SnapshotEvery whatever the activation
// history: a grain that replays past a multiple at activation snapshots
// after its next command, one that does not waits for the next multiple.
func TestSnapshotAfterReplay(t *testing.T) {
	tests := []struct {
		name   string
		stored int    // events written by another node before the activation
		want   uint64 // version of the first snapshot
	}{
		{name: "replayed past a multiple", stored: 5, want: 6},
		{name: "replayed up to a multiple", stored: 4, want: 5},
		{name: "replayed below a multiple", stored: 2, want: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es := newStore(t)
			ctx := t.Context()
			id := newID()
			for v := 1; v <= tc.stored; v++ {
				body := &personv1.Event{Body: &personv1.Event_NameUpdated{NameUpdated: &personv1.NameUpdated{NewName: &personv1.PersonName{GivenNames: []string{fmt.Sprint("n", v)}}}}}
				if v == 1 {
					body = &personv1.Event{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{PersonId: id, Name: &personv1.PersonName{GivenNames: []string{"n1"}}}}}
				}
				env := &personv1.EventEnvelope{EventId: newID(), PersonId: id, Version: uint64(v), Type: body.TypeName(), SchemaVersion: testKind().SchemaVersion(body.TypeName()), CausationId: newID(), Event: body}
				if _, err := es.Append(ctx, id, uint64(v-1), []*personv1.EventEnvelope{env}); err != nil {
					t.Fatal(err)
				}
			}
			n := startNode(t, es, es, grain.Config{SnapshotEvery: 4})
			for v := tc.stored + 1; uint64(v) <= tc.want; v++ {
				if _, err := n.client.Execute(ctx, rename(id, fmt.Sprint("m", v), "")); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "a snapshot", func() bool {
				_, ok := last[grain.SnapshotSaved](n.rec, id)
				return ok
			})
			if got := n.rec.count(func(e grain.LifecycleEvent) bool { _, ok := e.(grain.SnapshotSaved); return ok }); got != 1 {
				t.Errorf("%d snapshots saved, want 1", got)
			}
			if s, _ := last[grain.SnapshotSaved](n.rec, id); s.Version != tc.want {
				t.Errorf("snapshot at version %d, want %d", s.Version, tc.want)
			}
		})
	}
}

// A call whose ctx ends while the grain waits for the store returns
// DEADLINE_EXCEEDED at the deadline, matching context.DeadlineExceeded.
func TestDeadlineHonoured(t *testing.T) {
	mem := newStore(t)
	es := &gatedStore{EventStore: mem}
	n := startNode(t, es, mem, grain.Config{})
	ctx := t.Context()
	id := newID()
	if _, err := n.client.Execute(ctx, create(id, "Ada")); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	es.mu.Lock()
	es.gate = gate
	es.mu.Unlock()

	callCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := n.client.Execute(callCtx, rename(id, "Grace", ""))
	took := time.Since(start)
	if !errors.Is(err, personv1.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want DEADLINE_EXCEEDED matching context.DeadlineExceeded", err)
	}
	if took < 100*time.Millisecond || took > time.Second {
		t.Errorf("returned after %v, want about 100ms", took)
	}

	// Cancellation (no deadline) ends the call too.
	cctx, ccancel := context.WithCancel(ctx)
	time.AfterFunc(50*time.Millisecond, ccancel)
	if _, err := n.client.Execute(cctx, rename(id, "Hedy", "")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: err = %v, want context.Canceled", err)
	}
	close(gate)
	// The grain finished both commands after the gate opened.
	waitFor(t, "queued commands", func() bool { return len(stored(t, mem, id)) == 3 })
}

// slowSnapshots delays every SaveSnapshot until its gate closes.
type slowSnapshots struct {
	persistence.SnapshotStore
	gate chan struct{}
}

func (s *slowSnapshots) SaveSnapshot(ctx context.Context, snap persistence.Snapshot) error {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.SnapshotStore.SaveSnapshot(ctx, snap)
}

// Snapshots wait in a bounded queue: one that finds it full is dropped, and
// Shutdown writes the queued ones before it returns.
func TestSnapshotQueue(t *testing.T) {
	es := newStore(t)
	ss := &slowSnapshots{SnapshotStore: es, gate: make(chan struct{})}
	n := startNode(t, es, ss, grain.Config{SnapshotEvery: 1, SnapshotQueue: 2})
	ctx := t.Context()
	id := newID()
	cmds := []*personv1.Command{create(id, "n0"), rename(id, "n1", ""), rename(id, "n2", ""), rename(id, "n3", ""), rename(id, "n4", "")}
	for _, c := range cmds {
		if _, err := n.client.Execute(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := es.LoadSnapshot(ctx, id); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("snapshot written before the gate opened: %v", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Open the gate while Shutdown waits for the queue.
	time.AfterFunc(100*time.Millisecond, func() { close(ss.gate) })
	if err := n.node.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	// The writer held one snapshot at the gate and the queue two more; the
	// others were dropped (which ones depends on when the writer took the
	// first one). After Shutdown each was saved or reported dropped.
	saved, dropped := map[uint64]bool{}, map[uint64]bool{}
	n.rec.count(func(e grain.LifecycleEvent) bool {
		switch e := e.(type) {
		case grain.SnapshotSaved:
			saved[e.Version] = true
		case grain.SnapshotFailed:
			if errors.Is(e.Err, grain.ErrSnapshotQueueFull) {
				dropped[e.Version] = true
			}
		}
		return false
	})
	if len(dropped) == 0 {
		t.Error("no snapshot dropped with a full queue")
	}
	var want uint64 // the last snapshot saved
	for v := uint64(1); v <= uint64(len(cmds)); v++ {
		switch {
		case saved[v] == dropped[v]:
			t.Errorf("snapshot %d: saved %t, dropped %t; want one of them", v, saved[v], dropped[v])
		case saved[v]:
			want = v
		}
	}
	snap, err := es.LoadSnapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Version; got != want {
		t.Errorf("snapshot version after shutdown = %d, want %d (the last saved); dropped %v", got, want, dropped)
	}
}

// A stored event that Apply cannot fold (a bug) makes the person
// unavailable with INTERNAL; every message is answered at once and nothing
// is written.
func TestPoisonEvent(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{})
	ctx := t.Context()
	id := newID()
	if _, err := n.client.Execute(ctx, create(id, "Ada")); err != nil {
		t.Fatal(err)
	}
	poison := &personv1.EventEnvelope{EventId: newID(), PersonId: id, Version: 2, Type: "PersonArchived", SchemaVersion: testKind().SchemaVersion("PersonArchived"),
		Event: &personv1.Event{Body: &personv1.Event_PersonArchived{PersonArchived: &personv1.PersonArchived{}}}}
	if _, err := es.Append(ctx, id, 1, []*personv1.EventEnvelope{poison}); err != nil {
		t.Fatal(err)
	}
	for i, call := range []func() error{
		func() error { _, err := n.client.Execute(ctx, rename(id, "Grace", "")); return err },
		func() error { _, err := n.client.Get(ctx, id); return err },
		func() error { _, err := n.client.Execute(ctx, rename(id, "Hedy", "")); return err },
	} {
		if err := call(); !errors.Is(err, personv1.ErrInternal) {
			t.Errorf("call %d: err = %v, want INTERNAL", i, err)
		}
	}
	if got := len(stored(t, es, id)); got != 2 {
		t.Errorf("stored %d events, want 2", got)
	}
	if got := n.rec.count(func(e grain.LifecycleEvent) bool { p, ok := e.(grain.Panicked); return ok && p.Phase == "apply" }); got < 3 {
		t.Errorf("%d apply panics reported, want one per message", got)
	}
}

package grain_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/runtimev1"
	"github.com/cim/personrt/persistence"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/grain"
)

// store is an event store that also keeps snapshots.
type store interface {
	persistence.EventStore
	persistence.SnapshotStore
}

// newJetStream returns a JetStream store on a fresh embedded server.
func newJetStream(t *testing.T) store {
	t.Helper()
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	s, err := pjs.Open(t.Context(), nc, pjs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// stores are the stores the idempotency tests run against.
var stores = []struct {
	name string
	open func(*testing.T) store
}{
	{"memstore", func(t *testing.T) store { return newStore(t) }},
	{"jetstream", newJetStream},
}

// again returns a retry of cmd: the same command id, a fresh message.
func again(cmd *personv1.Command) *personv1.Command {
	return proto.CloneOf(cmd)
}

// moveGrain stops node a and starts node b on the same stores: the grain
// re-activates without a's state cache, as on another node or after a
// restart.
func moveGrain(t *testing.T, a *testNode, s store, cfg grain.Config) *testNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := a.node.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return startNode(t, s, s, cfg)
}

// sameResult reports whether got is first marked duplicate.
func sameResult(got, first *personv1.CommandResult) error {
	if !got.GetDuplicate() {
		return fmt.Errorf("result %v is not marked duplicate", got)
	}
	if got.GetVersion() != first.GetVersion() || len(got.GetEvents()) != len(first.GetEvents()) {
		return fmt.Errorf("result at version %d with %d events, want the first result at version %d with %d",
			got.GetVersion(), len(got.GetEvents()), first.GetVersion(), len(first.GetEvents()))
	}
	for i, e := range got.GetEvents() {
		if !proto.Equal(e, first.GetEvents()[i]) {
			return fmt.Errorf("event %d = %v, want %v", i, e, first.GetEvents()[i])
		}
	}
	return nil
}

// A command's retry after the grain moved is answered with its first result
// even when the snapshot the grain re-activated from was written after the
// command: the window travels in the snapshot. Without it the retried
// rename would be decided again on the current name and written twice.
func TestRetryAfterReactivationFromSnapshot(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.open(t)
			cfg := grain.Config{SnapshotEvery: 3}
			a := startNode(t, s, s, cfg)
			ctx := t.Context()
			id := newID()
			if _, err := a.client.Execute(ctx, create(id, "Ada")); err != nil {
				t.Fatal(err)
			}
			cmd := rename(id, "Lise", "")
			first, err := a.client.Execute(ctx, cmd)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				if _, err := a.client.Execute(ctx, rename(id, fmt.Sprint("n", i), "")); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "snapshot at 6", func() bool {
				sv, ok := last[grain.SnapshotSaved](a.rec, id)
				return ok && sv.Version == 6
			})

			b := moveGrain(t, a, s, cfg)
			got, err := b.client.Execute(ctx, again(cmd))
			if err != nil {
				t.Fatal(err)
			}
			if err := sameResult(got, first); err != nil {
				t.Error(err)
			}
			if got, want := len(stored(t, s, id)), 6; got != want {
				t.Errorf("stored %d events after the retry, want %d", got, want)
			}
			act, ok := last[grain.Activated](b.rec, id)
			if !ok || act.Cached || act.SnapshotVersion != 6 || act.Replayed != 0 || act.Commands != 6 {
				t.Errorf("activation on the new node = %+v, want snapshot 6, nothing replayed, 6 commands remembered", act)
			}
			if h, ok := last[grain.CommandHandled](b.rec, id); !ok || !h.Duplicate || h.Events != 1 {
				t.Errorf("handled %+v, want a duplicate of 1 event", h)
			}
		})
	}
}

// The window holds the IdempotencyWindow most recent commands that wrote
// events, in memory and in the snapshot. A retry of an older command is
// decided again like a new one: here the rename writes once more.
func TestIdempotencyWindowBound(t *testing.T) {
	const k = 2
	es := newStore(t)
	cfg := grain.Config{IdempotencyWindow: k, SnapshotEvery: 1}
	a := startNode(t, es, es, cfg)
	ctx := t.Context()
	id := newID()
	cmds := []*personv1.Command{create(id, "Ada"), rename(id, "x", ""), rename(id, "y", ""), rename(id, "z", "")}
	firsts := make([]*personv1.CommandResult, len(cmds))
	for i, c := range cmds {
		res, err := a.client.Execute(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		firsts[i] = res
	}
	waitFor(t, "snapshot at 4", func() bool {
		sv, ok := last[grain.SnapshotSaved](a.rec, id)
		return ok && sv.Version == 4
	})
	b := moveGrain(t, a, es, cfg)

	// In order: the last row writes, and so moves the window on.
	tests := []struct {
		name        string
		retry       int // index in cmds
		wantDup     bool
		wantVersion uint64
	}{
		{name: "newest", retry: 3, wantDup: true, wantVersion: 4},
		{name: "k-th newest", retry: 2, wantDup: true, wantVersion: 3},
		{name: "k+1-th newest is forgotten and decided again", retry: 1, wantDup: false, wantVersion: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := b.client.Execute(ctx, again(cmds[tc.retry]))
			if err != nil {
				t.Fatal(err)
			}
			if got.GetDuplicate() != tc.wantDup || got.GetVersion() != tc.wantVersion {
				t.Errorf("retry = duplicate %t at version %d, want duplicate %t at version %d",
					got.GetDuplicate(), got.GetVersion(), tc.wantDup, tc.wantVersion)
			}
			if tc.wantDup {
				if err := sameResult(got, firsts[tc.retry]); err != nil {
					t.Error(err)
				}
			}
			if got, want := uint64(len(stored(t, es, id))), max(tc.wantVersion, 4); got != want {
				t.Errorf("stored %d events, want %d", got, want)
			}
		})
	}
	if act, ok := last[grain.Activated](b.rec, id); !ok || act.SnapshotVersion != 4 || act.Commands != k {
		t.Errorf("activation = %+v, want snapshot 4 with %d commands remembered", act, k)
	}
}

// A stored snapshot the shell cannot use (another format, another schema, a
// broken envelope) is ignored: the grain replays every event, which also
// rebuilds its window. A good envelope is used, so the test can tell.
func TestUnusableSnapshotIgnored(t *testing.T) {
	state, err := json.Marshal(map[string]any{"created": true, "renames": 2, "name": "n1"})
	if err != nil {
		t.Fatal(err)
	}
	envelope := func(spans ...*runtimev1.CommandSpan) []byte {
		b, err := proto.Marshal(&runtimev1.GrainSnapshot{State: state, Commands: spans})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const format1 = 1 << 24 // the envelope's format in the top byte of the stored schema version
	kindSchema := testKind().Snapshot.SchemaVersion
	tests := []struct {
		name         string
		schema       uint32
		state        func(createID string) []byte
		wantSnapshot uint64 // 0: ignored
	}{
		{"good envelope", format1 | kindSchema, func(c string) []byte {
			return envelope(&runtimev1.CommandSpan{CommandId: c, FirstVersion: 1, LastVersion: 1})
		}, 3},
		{"kind's bare bytes (before the envelope)", kindSchema, func(string) []byte { return state }, 0},
		{"other kind schema", format1 | (kindSchema + 1), func(string) []byte { return envelope() }, 0},
		{"envelope does not decode", format1 | kindSchema, func(string) []byte { return []byte{0xff, 0xff} }, 0},
		{"window past the snapshot", format1 | kindSchema, func(c string) []byte {
			return envelope(&runtimev1.CommandSpan{CommandId: c, FirstVersion: 1, LastVersion: 9})
		}, 0},
		{"kind state does not decode", format1 | kindSchema, func(string) []byte {
			b, err := proto.Marshal(&runtimev1.GrainSnapshot{State: []byte("{")})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, 0},
	}
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{IdleTimeout: 20 * time.Millisecond, SnapshotEvery: -1, StateCacheSize: -1})
	ctx := t.Context()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := newID()
			created := create(id, "Ada")
			cmds := []*personv1.Command{created, rename(id, "n0", ""), rename(id, "n1", ""), rename(id, "n2", "")}
			for _, c := range cmds {
				if _, err := n.client.Execute(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			if err := es.SaveSnapshot(ctx, persistence.Snapshot{PersonID: id, Version: 3, SchemaVersion: tc.schema, State: tc.state(created.GetCommandId())}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "passivation", func() bool {
				p, ok := last[grain.Passivated](n.rec, id)
				return ok && p.Version == 4
			})
			got, err := n.client.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if got.GetName().GetGivenNames()[0] != "n2" || got.GetVersion() != 4 {
				t.Errorf("state = %v, want n2 at version 4", got)
			}
			act, ok := last[grain.Activated](n.rec, id)
			wantReplayed := 4 - int(tc.wantSnapshot)
			if !ok || act.SnapshotVersion != tc.wantSnapshot || act.Replayed != wantReplayed {
				t.Errorf("activation = %+v, want snapshot %d and %d replayed", act, tc.wantSnapshot, wantReplayed)
			}
			// Either way the window knows the create again.
			res, err := n.client.Execute(ctx, again(created))
			if err != nil || !res.GetDuplicate() || res.GetVersion() != 1 {
				t.Errorf("retried create = %v, %v; want its first result", res, err)
			}
		})
	}
}

// A window entry whose events are not in the store as it says (a broken
// snapshot) answers INTERNAL, naming the rule, and writes nothing: the
// command is neither decided again nor answered with another's events.
func TestWindowMismatchIsInternal(t *testing.T) {
	es := newStore(t)
	n := startNode(t, es, es, grain.Config{IdleTimeout: 20 * time.Millisecond, SnapshotEvery: -1, StateCacheSize: -1})
	ctx := t.Context()
	id := newID()
	for _, c := range []*personv1.Command{create(id, "Ada"), rename(id, "n1", "")} {
		if _, err := n.client.Execute(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	state, err := json.Marshal(map[string]any{"created": true, "renames": 1, "name": "n1"})
	if err != nil {
		t.Fatal(err)
	}
	ghost := rename(id, "n2", "")
	env, err := proto.Marshal(&runtimev1.GrainSnapshot{State: state, Commands: []*runtimev1.CommandSpan{
		{CommandId: ghost.GetCommandId(), FirstVersion: 2, LastVersion: 2}, // event 2 was caused by the rename
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := es.SaveSnapshot(ctx, persistence.Snapshot{PersonID: id, Version: 2, SchemaVersion: 1<<24 | testKind().Snapshot.SchemaVersion, State: env}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "passivation", func() bool {
		p, ok := last[grain.Passivated](n.rec, id)
		return ok && p.Version == 2
	})
	_, err = n.client.Execute(ctx, ghost)
	var pe *personv1.Error
	if !errors.As(err, &pe) || !errors.Is(err, personv1.ErrInternal) || pe.GetRule() != "grain.first_result" {
		t.Errorf("err = %v, want INTERNAL naming rule grain.first_result", err)
	}
	if got := len(stored(t, es, id)); got != 2 {
		t.Errorf("stored %d events, want 2", got)
	}
}

package personkind_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/personkind"
	"github.com/cim/personrt/runtime/watch"
)

// activations records the Activated events of a host.
type activations struct {
	mu  sync.Mutex
	all []grain.Activated
}

func (a *activations) observe(e grain.LifecycleEvent) {
	if ev, ok := e.(grain.Activated); ok {
		a.mu.Lock()
		a.all = append(a.all, ev)
		a.mu.Unlock()
	}
}

func (a *activations) last() (grain.Activated, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.all) == 0 {
		return grain.Activated{}, false
	}
	return a.all[len(a.all)-1], true
}

// startNode starts a node hosting persons over store; it is shut down by the
// returned func (idempotent) and at cleanup.
func startNode(t *testing.T, store *pjs.Store, acts *activations) (*client.Client, func()) {
	t.Helper()
	h, err := personkind.NewHost(grain.Config{Events: store, Snapshots: store, SnapshotEvery: 2, Observer: acts.observe})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Kinds: []node.Kind{h}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 15*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	c, err := client.New(n.Cluster(), client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return c, stop
}

func name(given, family string) *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{given}, FamilyNames: []string{family}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

// A person's life on a real embedded NATS server through the JetStream
// store: commands, a query, a watch, a snapshot, and a restart of the node
// that keeps every acknowledged change.
func TestEndToEndJetStream(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	ctx := t.Context()
	store, err := pjs.Open(ctx, nc, pjs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	acts := &activations{}
	c, stop := startNode(t, store, acts)
	id := uuid.Must(uuid.NewV7()).String()

	w, err := watch.New(nc, store, watch.Config{})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	watched := make(chan *personv1.EventEnvelope, 8)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- w.Watch(wctx, id, 0, func(e *personv1.EventEnvelope) error { watched <- e; return nil })
	}()

	create := &personv1.Command{PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: name("Ada", "Byron"), Source: "test"}}}
	first, err := c.Execute(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	if create.GetCommandId() == "" || first.GetVersion() != 1 {
		t.Fatalf("create: result %v, command id %q", first, create.GetCommandId())
	}
	var renames []*personv1.Command
	var lastResult *personv1.CommandResult
	for _, n := range []*personv1.PersonName{name("Ada", "King"), name("Ada", "Lovelace")} {
		cmd := &personv1.Command{PersonId: id, Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: n, Reason: "marriage"}}}
		if lastResult, err = c.Execute(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		renames = append(renames, cmd)
	}
	if _, err := c.Execute(ctx, &personv1.Command{PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: name("Ada", "Byron")}}}); !errors.Is(err, personv1.ErrAlreadyExists) && !errors.Is(err, personv1.ErrFailedPrecondition) {
		t.Errorf("second create: err = %v, want a rejection", err)
	}
	got, err := c.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetVersion() != 3 || got.GetName().GetFamilyNames()[0] != "Lovelace" {
		t.Errorf("get = version %d name %v, want version 3 Lovelace", got.GetVersion(), got.GetName())
	}
	if _, err := c.Get(ctx, uuid.Must(uuid.NewV7()).String()); !errors.Is(err, personv1.ErrNotFound) {
		t.Errorf("get unknown: err = %v, want NOT_FOUND", err)
	}
	for v := uint64(1); v <= 3; v++ {
		select {
		case e := <-watched:
			if e.GetVersion() != v {
				t.Fatalf("watched version %d, want %d", e.GetVersion(), v)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("watch: no event %d", v)
		}
	}
	cancelWatch()
	if err := <-watchDone; !errors.Is(err, context.Canceled) {
		t.Errorf("watch returned %v", err)
	}

	// Restart: a new node with an empty state cache reads the snapshot at 2
	// and one event.
	stop()
	c2, _ := startNode(t, store, acts)
	got, err = c2.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetVersion() != 3 || got.GetName().GetFamilyNames()[0] != "Lovelace" {
		t.Errorf("after restart: version %d name %v, want version 3 Lovelace", got.GetVersion(), got.GetName())
	}
	if a, ok := acts.last(); !ok || a.Cached || a.SnapshotVersion != 2 || a.Replayed != 1 {
		t.Errorf("activation after restart = %+v, want snapshot 2 + 1 event", a)
	}
	// A retry of the last command after the restart is recognised from the
	// causation id of the event replayed after the snapshot.
	last := renames[len(renames)-1]
	dup, err := c2.Execute(ctx, &personv1.Command{CommandId: last.GetCommandId(), PersonId: id, Body: last.GetBody()})
	if err != nil {
		t.Fatal(err)
	}
	if !dup.GetDuplicate() || dup.GetVersion() != 3 || dup.GetEvents()[0].GetEventId() != lastResult.GetEvents()[0].GetEventId() {
		t.Errorf("retried rename = %v, want the first result %v marked duplicate", dup, lastResult)
	}
	// The create is older than the snapshot: the idempotency window stored
	// in the snapshot still answers its first result.
	dup, err = c2.Execute(ctx, &personv1.Command{CommandId: create.GetCommandId(), PersonId: id, Body: create.GetBody()})
	if err != nil || !dup.GetDuplicate() || dup.GetVersion() != 1 || dup.GetEvents()[0].GetEventId() != first.GetEvents()[0].GetEventId() {
		t.Errorf("retried create = %v, %v; want the first result %v marked duplicate", dup, err, first)
	}
	if v, err := store.LastVersion(ctx, id); err != nil || v != 3 {
		t.Errorf("last version = %d, %v; want 3", v, err)
	}
}

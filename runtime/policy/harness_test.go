package policy

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/dlq"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/onboardingkind"
	"github.com/cim/personrt/runtime/personkind"
	"github.com/cim/personrt/runtime/timer"
)

// env is one embedded NATS server with the person and onboarding stores,
// a node hosting both kinds, the DLQ and the timers.
type env struct {
	t          *testing.T
	dir        string
	srv        *natsserver.Server
	nc         *nats.Conn
	persons    *pjs.Store
	onboarding *pjs.Store
	dlq        *dlq.DLQ
	timers     *timer.Timers
	node       *node.Node
	people     *client.Client
	flows      *client.Client
	obs        *observer
}

// newEnv starts a server (on dir, or a fresh one when dir is "") and a node.
func newEnv(t *testing.T, dir string) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	e := &env{t: t, dir: dir, obs: &observer{}}
	e.srv = natstest.Start(t, natstest.WithStoreDir(dir), natstest.WithSyncInterval())
	nc, err := e.srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	ctx := t.Context()
	if e.persons, err = pjs.Open(ctx, nc, pjs.Config{}); err != nil {
		t.Fatal(err)
	}
	if e.onboarding, err = pjs.Open(ctx, nc, onboardingkind.StoreConfig(pjs.Config{})); err != nil {
		t.Fatal(err)
	}
	if e.dlq, err = dlq.Open(ctx, nc, dlq.Config{ReplayTimeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if e.timers, err = timer.Open(ctx, nc, timer.Config{}); err != nil {
		t.Fatal(err)
	}
	e.startNode()
	return e
}

// startNode starts a node hosting persons and onboardings; stopNode (also
// at cleanup) shuts it down.
func (e *env) startNode() {
	t := e.t
	t.Helper()
	ph, err := personkind.NewHost(grain.Config{Events: e.persons, Snapshots: e.persons})
	if err != nil {
		t.Fatal(err)
	}
	oh, err := onboardingkind.NewHost(grain.Config{Events: e.onboarding, Snapshots: e.onboarding})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Kinds: []node.Kind{ph, oh}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.node = n
	t.Cleanup(e.stopNode)
	if e.people, err = client.New(n.Cluster(), client.Config{}); err != nil {
		t.Fatal(err)
	}
	if e.flows, err = client.New(n.Cluster(), client.Config{Kind: apolicy.KindOnboarding}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) stopNode() {
	if e.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.t.Context()), 15*time.Second)
	defer cancel()
	if err := e.node.Shutdown(ctx); err != nil {
		e.t.Errorf("node shutdown: %v", err)
	}
	e.node = nil
}

// config returns a runner config with test timings: 300ms ack wait, 50ms
// base back-off, 3 deliveries.
func (e *env) config(policies []apolicy.Policy) Config {
	return Config{
		Policies: policies,
		Cluster:  e.node.Cluster(),
		Conn:     e.nc,
		Sources: map[string]Source{
			apolicy.KindPerson:     {Events: e.persons},
			apolicy.KindOnboarding: {Stream: onboardingkind.Stream, SubjectPrefix: onboardingkind.SubjectPrefix, Events: e.onboarding},
		},
		DLQ:            e.dlq,
		Timers:         e.timers,
		AckWait:        300 * time.Millisecond,
		MaxDeliver:     3,
		BaseBackoff:    50 * time.Millisecond,
		MaxBackoff:     200 * time.Millisecond,
		CommandTimeout: 3 * time.Second,
		RestartBackoff: 20 * time.Millisecond,
		Observer:       e.obs.add,
	}
}

// start builds and starts a runner; it is closed at cleanup.
func (e *env) start(cfg Config) *Runner {
	e.t.Helper()
	r, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := r.Start(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := r.Close(); err != nil {
			e.t.Errorf("close runner: %v", err)
		}
	})
	return r
}

func policies(t *testing.T, cfg apolicy.Config) []apolicy.Policy {
	t.Helper()
	s, err := apolicy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s.Policies()
}

// observer records the runner's lifecycle events.
type observer struct {
	mu  sync.Mutex
	all []Event
}

func (o *observer) add(e Event) {
	o.mu.Lock()
	o.all = append(o.all, e)
	o.mu.Unlock()
}

// count returns how many recorded events match f.
func (o *observer) count(f func(Event) bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, e := range o.all {
		if f(e) {
			n++
		}
	}
	return n
}

func (o *observer) events() []Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.all)
}

// eventually polls cond every 10ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		tick := time.NewTimer(10 * time.Millisecond)
		select {
		case <-tick.C:
		case <-t.Context().Done():
			tick.Stop()
			t.Fatal(t.Context().Err())
		}
	}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

func name(given, family string) *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{given}, FamilyNames: []string{family}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

// create creates a person with the given name and contacts.
func (e *env) create(id string, n *personv1.PersonName, contacts ...*personv1.ContactInput) {
	e.t.Helper()
	_, err := e.people.Execute(e.t.Context(), &personv1.Command{PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: n, Contacts: contacts, Source: "test"}}})
	if err != nil {
		e.t.Fatalf("create %s: %v", id, err)
	}
}

func emailInput(v string) *personv1.ContactInput {
	return &personv1.ContactInput{Kind: personv1.ContactKind_CONTACT_KIND_EMAIL, Value: v, Primary: true}
}

// person returns the current state of id.
func (e *env) person(id string) *personv1.PersonSnapshot {
	e.t.Helper()
	p, err := e.people.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("get %s: %v", id, err)
	}
	return p
}

// onboardingOf returns the onboarding of id, nil when not started.
func (e *env) onboardingOf(id string) *personv1.OnboardingSnapshot {
	e.t.Helper()
	o, err := onboardingkind.Get(e.t.Context(), e.flows, id)
	if err != nil {
		if strings.Contains(err.Error(), "NOT_FOUND") {
			return nil
		}
		e.t.Fatalf("onboarding of %s: %v", id, err)
	}
	return o
}

// handled reports whether worker handled a message of key.
func handled(worker, key string) func(Event) bool {
	return func(e Event) bool {
		h, ok := e.(Handled)
		return ok && h.Worker == worker && h.Key == key
	}
}

func dlqFilter(policy, key string) dlq.Filter { return dlq.Filter{Policy: policy, PersonID: key} }

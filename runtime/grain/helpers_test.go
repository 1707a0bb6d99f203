package grain_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence"
	"github.com/cim/personrt/persistence/memstore"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/node"
)

// counter is the state of the test kind: a person reduced to what the shell
// tests need. A value type, so Apply never shares it.
type counter struct {
	Created bool   `json:"created"`
	Renames int    `json:"renames"`
	Name    string `json:"name"`
}

// panicReason in UpdateName.reason makes Decide panic.
const panicReason = "panic"

// testKind is a small kind over person commands: CreatePerson, UpdateName.
func testKind() grain.Kind[counter] {
	return grain.Kind[counter]{
		Name: client.PersonKind,
		Decide: func(s counter, cmd *personv1.Command, _ time.Time) ([]*personv1.Event, error) {
			switch b := cmd.GetBody().(type) {
			case *personv1.Command_CreatePerson:
				if s.Created {
					return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_ALREADY_EXISTS, "person.unique", "exists")
				}
				return []*personv1.Event{{Body: &personv1.Event_PersonCreated{PersonCreated: &personv1.PersonCreated{PersonId: cmd.GetPersonId(), Name: b.CreatePerson.GetName()}}}}, nil
			case *personv1.Command_UpdateName:
				if !s.Created {
					return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "person.exists", "no person")
				}
				if b.UpdateName.GetReason() == panicReason {
					panic("decide exploded")
				}
				if b.UpdateName.GetName().GetGivenNames()[0] == s.Name {
					return nil, nil
				}
				return []*personv1.Event{{Body: &personv1.Event_NameUpdated{NameUpdated: &personv1.NameUpdated{NewName: b.UpdateName.GetName(), ChangeReason: b.UpdateName.GetReason()}}}}, nil
			}
			return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "command.known", "%s", cmd.TypeName())
		},
		Apply: func(s counter, e *personv1.EventEnvelope) counter {
			switch b := e.GetEvent().GetBody().(type) {
			case *personv1.Event_PersonCreated:
				s.Created, s.Name = true, b.PersonCreated.GetName().GetGivenNames()[0]
			case *personv1.Event_NameUpdated:
				s.Renames++
				s.Name = b.NameUpdated.GetNewName().GetGivenNames()[0]
			default:
				panic(fmt.Sprintf("unexpected event %s", e.GetType()))
			}
			return s
		},
		SchemaVersion: upcast.CurrentVersion,
		Snapshot: &grain.SnapshotCodec[counter]{
			SchemaVersion: 1,
			Encode:        func(s counter) ([]byte, error) { return json.Marshal(s) },
			Decode: func(b []byte) (counter, error) {
				var s counter
				err := json.Unmarshal(b, &s)
				return s, err
			},
		},
		Query: func(v grain.View[counter], q proto.Message) (proto.Message, bool) {
			if _, ok := q.(*personv1.GetPerson); !ok {
				return nil, false
			}
			if !v.State.Created {
				return &personv1.PersonReply{Reply: &personv1.PersonReply_Error{Error: personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "person.exists", "no person")}}, true
			}
			return &personv1.PersonReply{Reply: &personv1.PersonReply_Person{Person: &personv1.PersonSnapshot{
				PersonId: v.ID, Version: v.Version, Name: &personv1.PersonName{GivenNames: []string{v.State.Name}},
			}}}, true
		},
	}
}

func create(id, name string) *personv1.Command {
	return &personv1.Command{CommandId: newID(), PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: &personv1.PersonName{GivenNames: []string{name}}}}}
}

func rename(id, name, reason string) *personv1.Command {
	return &personv1.Command{CommandId: newID(), PersonId: id, Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: &personv1.PersonName{GivenNames: []string{name}}, Reason: reason}}}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// recorder collects lifecycle events; safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	events []grain.LifecycleEvent
}

func (r *recorder) observe(e grain.LifecycleEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// count returns how many recorded events satisfy match.
func (r *recorder) count(match func(grain.LifecycleEvent) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if match(e) {
			n++
		}
	}
	return n
}

// last returns the last recorded event of type E for id.
func last[E grain.LifecycleEvent](r *recorder, id string) (E, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		if e, ok := r.events[i].(E); ok && eventID(e) == id {
			return e, true
		}
	}
	var zero E
	return zero, false
}

func eventID(e grain.LifecycleEvent) string {
	switch e := e.(type) {
	case grain.Activated:
		return e.ID
	case grain.Passivated:
		return e.ID
	case grain.CommandHandled:
		return e.ID
	case grain.ConflictRetried:
		return e.ID
	case grain.Panicked:
		return e.ID
	case grain.HydrationFailed:
		return e.ID
	case grain.SnapshotSaved:
		return e.ID
	case grain.SnapshotFailed:
		return e.ID
	}
	return ""
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// testNode is a started standalone node hosting the test kind.
type testNode struct {
	node   *node.Node
	host   *grain.Host[counter]
	client *client.Client
	rec    *recorder
}

// startNode starts a node hosting the test kind over es and ss; cfg's
// Events and Snapshots are set here, and Observer unless set. The node
// shuts down at cleanup.
func startNode(t testing.TB, es persistence.EventStore, ss persistence.SnapshotStore, cfg grain.Config) *testNode {
	t.Helper()
	rec := &recorder{}
	cfg.Events, cfg.Snapshots = es, ss
	if cfg.Observer == nil {
		cfg.Observer = rec.observe
	}
	h, err := grain.NewHost(testKind(), cfg)
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
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 15*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	c, err := client.New(n.Cluster(), client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{node: n, host: h, client: c, rec: rec}
}

// activation is a grain spawned directly, beside the one the cluster placed.
type activation struct {
	sys *actor.ActorSystem
	pid *actor.PID
}

// secondActivation spawns another activation of id on n, bypassing the
// cluster's placement: two shells of one person, as two nodes with different
// views of the cluster would run. It is stopped at cleanup.
func (n *testNode) secondActivation(t *testing.T, id string) *activation {
	t.Helper()
	c := n.node.Cluster()
	props := cluster.WithClusterIdentity(n.host.ClusterKind().Props, cluster.NewClusterIdentity(id, n.host.Name()))
	pid := c.ActorSystem.Root.Spawn(props)
	t.Cleanup(func() {
		if err := c.ActorSystem.Root.PoisonFuture(pid).Wait(); err != nil {
			t.Errorf("stop second activation: %v", err)
		}
	})
	return &activation{sys: c.ActorSystem, pid: pid}
}

// execute sends cmd to the activation and returns its result.
func (a *activation) execute(cmd *personv1.Command) (*personv1.CommandResult, error) {
	reply, err := a.sys.Root.RequestFuture(a.pid, cmd, 5*time.Second).Result()
	if err != nil {
		return nil, err
	}
	r, ok := reply.(*personv1.CommandReply)
	if !ok {
		return nil, fmt.Errorf("reply %T", reply)
	}
	if e := r.GetError(); e != nil {
		return nil, e
	}
	return r.GetResult(), nil
}

// newStore returns a memstore closed at cleanup.
func newStore(t testing.TB) *memstore.Store {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// storedVersions returns the versions and causation ids stored for id.
func stored(t *testing.T, es persistence.EventStore, id string) []*personv1.EventEnvelope {
	t.Helper()
	var out []*personv1.EventEnvelope
	if err := es.Load(t.Context(), id, 1, func(e *personv1.EventEnvelope) error {
		out = append(out, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// gatedStore is a real store whose Append can be held at a gate or made to
// fail after storing (a lost acknowledgement).
type gatedStore struct {
	persistence.EventStore
	mu       sync.Mutex
	gate     chan struct{} // when non-nil, Append waits for it to close (or ctx)
	loseAcks int           // the next loseAcks appends are stored but answered with errLostAck
}

var errLostAck = errors.New("test: acknowledgement lost")

func (s *gatedStore) Append(ctx context.Context, id string, expected uint64, events []*personv1.EventEnvelope) (uint64, error) {
	s.mu.Lock()
	gate := s.gate
	lose := s.loseAcks > 0
	if lose {
		s.loseAcks--
	}
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	v, err := s.EventStore.Append(ctx, id, expected, events)
	if err == nil && lose {
		return 0, errLostAck
	}
	return v, err
}

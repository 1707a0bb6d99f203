// Command remoteclient is a client-only protoactor-go cluster member in its
// own process that calls person grains of a running persond cluster with
// the protobuf messages of messages/proto/person/v1: what another actor
// system does to use the Person runtime (docs/CLUSTER.md has the contract
// for Proto.Actor in .NET or Kotlin).
//
//	go run ./cmd/persond &                         # a node (NATS on 127.0.0.1:4222)
//	go run ./examples/remoteclient --person ada    # creates, renames and reads ada
//
// It joins the cluster the way every member does (NATS KV membership,
// runtime/placement lookup, cluster name "personrt"), but hosts no kinds
// (Cluster.StartClient). It then calls the grains twice over: through the
// typed client (runtime/client: command ids, retries, failover) and with a
// bare protoactor-go request, which is all a non-Go member needs: kind
// "person", identity = person id, message person.v1.Command or
// person.v1.GetPerson, reply person.v1.CommandReply or person.v1.PersonReply.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/membership"
	"github.com/cim/personrt/runtime/placement"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args and talks to the cluster; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("remoteclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats-url", "nats://127.0.0.1:4222", "NATS server (or comma-separated cluster) of the persond nodes")
	clusterName := fs.String("cluster-name", "personrt", "actor cluster name of the nodes (persond --cluster-name)")
	remoteAddr := fs.String("remote-addr", "127.0.0.1:0", "host:port of this member's gRPC listener; the nodes dial it to answer")
	person := fs.String("person", "", "person id (default: a new UUIDv7)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each call")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *person == "" {
		*person = uuid.Must(uuid.NewV7()).String()
	}
	if err := talk(ctx, stdout, config{natsURL: *natsURL, cluster: *clusterName, remoteAddr: *remoteAddr, person: *person, timeout: *timeout}); err != nil {
		fmt.Fprintln(stderr, "remoteclient:", err)
		return 1
	}
	return 0
}

type config struct {
	natsURL, cluster, remoteAddr, person string
	timeout                              time.Duration
}

// member is a started client-only member.
type member struct {
	nc       *nats.Conn
	provider *membership.Provider
	cluster  *cluster.Cluster
}

// join connects to NATS and starts a client-only member.
func join(cfg config) (*member, error) {
	host, p, err := net.SplitHostPort(cfg.remoteAddr)
	if err != nil {
		return nil, fmt.Errorf("--remote-addr: %w", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("--remote-addr port: %w", err)
	}
	nc, err := nats.Connect(cfg.natsURL, nats.Name("remoteclient"))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.natsURL, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	provider, err := membership.New(js) // the nodes' bucket and TTL (defaults)
	if err != nil {
		nc.Close()
		return nil, err
	}
	lookup, err := placement.New() // every member and client must use it
	if err != nil {
		nc.Close()
		return nil, err
	}
	quiet := func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }
	sys := actor.NewActorSystem(actor.WithLoggerFactory(quiet))
	c := cluster.New(sys, cluster.Configure(cfg.cluster, provider, lookup, remote.Configure(host, port)))
	m := &member{nc: nc, provider: provider, cluster: c}
	if err := startClient(c); err != nil {
		m.leave()
		return nil, err
	}
	return m, nil
}

// startClient joins as a client (no kinds); protoactor-go panics when the
// provider fails to start.
func startClient(c *cluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("join the cluster: %v", r)
		}
	}()
	c.StartClient()
	return nil
}

// leave shuts the member down without Cluster.Shutdown, which panics on a
// client-only member (its gossip never started).
func (m *member) leave() {
	if err := m.provider.Shutdown(true); err != nil {
		fmt.Fprintln(os.Stderr, "remoteclient: leave membership:", err)
	}
	if m.cluster.IdentityLookup != nil {
		m.cluster.IdentityLookup.Shutdown()
	}
	m.cluster.ActorSystem.Shutdown()
	if m.cluster.Remote != nil {
		m.cluster.Remote.Shutdown(true)
	}
	m.nc.Close()
}

// talk creates, renames and reads a person, through the typed client and
// with bare protoactor requests.
func talk(ctx context.Context, out io.Writer, cfg config) error {
	m, err := join(cfg)
	if err != nil {
		return err
	}
	defer m.leave()
	persons, err := client.New(m.cluster, client.Config{Timeout: cfg.timeout})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := persons.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "remoteclient:", err)
		}
	}()
	name := func(family string) *personv1.PersonName {
		return &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{family}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
	}

	// The typed client: it sets a command id (retries are idempotent),
	// retries while a grain moves, and fails over from a lost member.
	created, err := persons.Execute(ctx, &personv1.Command{PersonId: cfg.person,
		Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: name("Lovelace")}}})
	if err != nil {
		return fmt.Errorf("create %s: %w", cfg.person, err)
	}
	fmt.Fprintf(out, "typed client: created %s at version %d\n", cfg.person, created.GetVersion())

	// A bare protoactor-go request: kind "person", the person id as the
	// identity, a person.v1.Command with a command id of the caller's.
	cmd := &personv1.Command{PersonId: cfg.person, CommandId: uuid.Must(uuid.NewV7()).String(),
		Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: name("King"), Reason: "marriage"}}}
	res, err := m.cluster.Request(cfg.person, client.PersonKind, cmd, cluster.WithTimeout(cfg.timeout))
	if err != nil {
		return fmt.Errorf("rename %s: %w", cfg.person, err)
	}
	reply, ok := res.(*personv1.CommandReply)
	if !ok {
		return fmt.Errorf("rename %s: reply %T, want *personv1.CommandReply", cfg.person, res)
	}
	if e := reply.GetError(); e != nil {
		return fmt.Errorf("rename %s: %w", cfg.person, e)
	}
	fmt.Fprintf(out, "bare request: %s answered %s at version %d\n", cmd.TypeName(), typeName(reply), reply.GetResult().GetVersion())

	// A query: person.v1.GetPerson answered by person.v1.PersonReply.
	res, err = m.cluster.Request(cfg.person, client.PersonKind, &personv1.GetPerson{PersonId: cfg.person}, cluster.WithTimeout(cfg.timeout))
	if err != nil {
		return fmt.Errorf("get %s: %w", cfg.person, err)
	}
	got, ok := res.(*personv1.PersonReply)
	if !ok || got.GetError() != nil {
		return fmt.Errorf("get %s: reply %v", cfg.person, res)
	}
	fmt.Fprintf(out, "bare request: GetPerson answered %s: %s %s, version %d, %s\n", typeName(got),
		got.GetPerson().GetName().GetGivenNames()[0], got.GetPerson().GetName().GetFamilyNames()[0],
		got.GetPerson().GetVersion(), got.GetPerson().GetLifecycle())

	p, err := persons.Get(ctx, cfg.person)
	if err != nil {
		return fmt.Errorf("typed get %s: %w", cfg.person, err)
	}
	fmt.Fprintf(out, "typed client: %s is at version %d\n", cfg.person, p.GetVersion())
	return nil
}

// typeName is a message's protobuf full name, as it travels on the wire.
func typeName(m proto.Message) string { return string(proto.MessageName(m)) }

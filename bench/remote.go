package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/membership"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/personkind"
	"github.com/cim/personrt/runtime/placement"
)

// The cluster scenarios (remote, scale) run grain hosts in their own
// processes: the bench binary re-executes itself with hostEnv set to the
// NATS URL, and that process is a cluster member hosting person grains
// (NATS membership, placement, a JetStream store) plus the raw baseline's
// echo actor, until its stdin closes.
const (
	hostEnv = "PERSONRT_BENCH_HOST_NATS"
	// echoName prefixes the raw baseline's actors on every host,
	// "bench-echo-0" to "bench-echo-<echoActors-1>": each answers a
	// person.v1.GetPerson with a person.v1.PersonReply like the one a
	// person grain gives, without the grain machinery. One per caller, as
	// each caller has its own grain: actors that each get a message at a
	// time cost a goroutine hand-off per message, one busy actor does not.
	echoName   = "bench-echo-"
	echoActors = 64
	// templatePerson is the person whose reply the echo actor sends.
	templatePerson = "bench-template"
)

func init() {
	register(Scenario{
		Name:  "remote",
		About: "a query to a person grain in another process (client-only member, typed client, placement) vs a raw protoactor-go remote request to a plain actor in that process answering the same reply; 1 and 64 callers, one grain or actor each",
		Run:   runRemote,
	})
	if url := os.Getenv(hostEnv); url != "" {
		os.Exit(serveHost(url))
	}
}

// serveHost is the grain host process: it joins the cluster on url,
// prints "READY" and serves until its stdin closes or it is signalled.
func serveHost(url string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := host(ctx, url, log); err != nil {
		log.Error("bench host failed", slog.Any("err", err))
		return 1
	}
	return 0
}

func host(ctx context.Context, url string, log *slog.Logger) error {
	nc, err := nats.Connect(url, nats.Name("bench-host"))
	if err != nil {
		return err
	}
	defer nc.Close()
	store, err := pjs.Open(ctx, nc, pjs.Config{})
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }() // Close always returns nil
	persons, err := personkind.NewHost(grain.Config{Events: store, Snapshots: store, SnapshotEvery: 16, Logger: log})
	if err != nil {
		return err
	}
	n, err := clusterNode(ctx, nc, log, persons)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
			log.Warn("bench host shutdown", slog.Any("err", err))
		}
	}()
	template, err := templateReply(ctx, n)
	if err != nil {
		return err
	}
	echo := actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*personv1.GetPerson); ok {
			c.Respond(template)
		}
	})
	for i := range echoActors {
		if _, err := n.Cluster().ActorSystem.Root.SpawnNamed(echo, echoName+strconv.Itoa(i)); err != nil {
			return err
		}
	}
	fmt.Println("READY")
	stdinClosed := make(chan struct{})
	go func() {
		defer close(stdinClosed)
		_, _ = io.Copy(io.Discard, os.Stdin) // returns when the bench closes it
	}()
	select {
	case <-stdinClosed:
	case <-ctx.Done():
	}
	return nil
}

// templateReply creates templatePerson (if needed) and returns its
// PersonReply, the echo actor's answer.
func templateReply(ctx context.Context, n *node.Node) (*personv1.PersonReply, error) {
	c, err := client.New(n.Cluster(), client.Config{Owner: n.Owner, Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Shutdown(ctx) }() // its lookups ended with the calls below
	cmd := &personv1.Command{PersonId: templatePerson, CommandId: "bench-template-create",
		Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: benchName("Byron"), Source: "bench"}}}
	if _, err := c.Execute(ctx, cmd); err != nil && !errors.Is(err, personv1.ErrAlreadyExists) {
		return nil, fmt.Errorf("create the template person: %w", err)
	}
	snap, err := c.Get(ctx, templatePerson)
	if err != nil {
		return nil, err
	}
	return &personv1.PersonReply{Reply: &personv1.PersonReply_Person{Person: snap}}, nil
}

// clusterNode starts a member of the bench cluster on nc (NATS
// membership, placement) hosting kinds, or a client-only member without.
func clusterNode(ctx context.Context, nc *nats.Conn, log *slog.Logger, kinds ...node.Kind) (*node.Node, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	provider, err := membership.New(js)
	if err != nil {
		return nil, err
	}
	lookup, err := placement.New()
	if err != nil {
		return nil, err
	}
	n, err := node.New(node.Config{Kinds: kinds, Provider: provider, IdentityLookup: lookup, RequestTimeout: 30 * time.Second, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	return n, nil
}

// hostProc is a grain host process started by the bench.
type hostProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startHost starts a grain host process on the NATS server at url and
// waits until it serves. The scenario's end stops it.
func startHost(ctx context.Context, env *Env, url string) (*hostProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), hostEnv+"="+url)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h := &hostProc{cmd: cmd, stdin: stdin}
	env.Defer(func() { h.stop(env) })
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "READY" {
			err = fmt.Errorf("unexpected first line %q", line)
		}
		ready <- err
		_, _ = io.Copy(io.Discard, stdout) // until the process exits
	}()
	select {
	case err := <-ready:
		if err != nil {
			return nil, fmt.Errorf("grain host: %w", err)
		}
	case <-time.After(60 * time.Second):
		return nil, errors.New("grain host not ready within 60s")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h, nil
}

// stop closes the host's stdin (it leaves the cluster and exits) and waits
// for it, killing it after 30s.
func (h *hostProc) stop(env *Env) {
	if err := h.stdin.Close(); err != nil {
		env.Logf("close grain host stdin: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			env.Logf("grain host: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = h.cmd.Process.Kill() // it did not stop; the error is the timeout
		<-done
		env.Logf("grain host killed after 30s")
	}
}

// caller is the bench side of the cluster scenarios: a client-only member
// with a typed client.
type caller struct {
	*benchNode
}

// newCaller joins the cluster on srv as a client-only member.
func newCaller(ctx context.Context, env *Env, srv *Server) (*caller, error) {
	nc, err := srv.Connect()
	if err != nil {
		return nil, err
	}
	env.Defer(nc.Close)
	n, err := clusterNode(ctx, nc, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	c, err := client.New(n.Cluster(), client.Config{Owner: n.Owner, Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	env.Defer(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Shutdown(sctx); err != nil {
			env.Logf("client shutdown: %v", err)
		}
		if err := n.Shutdown(sctx); err != nil {
			env.Logf("client member shutdown: %v", err)
		}
	})
	return &caller{benchNode: &benchNode{node: n, client: c}}, nil
}

// hostsOf returns the members that own the given persons in the caller's
// view.
func (c *caller) hostsOf(persons []string) map[string]int {
	owners := map[string]int{}
	for _, p := range persons {
		owners[c.node.Owner(client.PersonKind, p)]++
	}
	return owners
}

// waitHosts waits until the caller's view spreads persons over n hosts.
func (c *caller) waitHosts(ctx context.Context, persons []string, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for len(c.hostsOf(persons)) != n || c.hostsOf(persons)[""] > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("persons not spread over %d hosts within 30s: %v", n, c.hostsOf(persons))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling a condition with a deadline
		}
	}
	return nil
}

// runRemote measures a query to a grain in another process against a raw
// protoactor-go request to a plain actor in that process, with 1 and 64
// callers.
func runRemote(ctx context.Context, env *Env) error {
	rounds, window := 6, 1500*time.Millisecond
	if env.Quick {
		rounds, window = 2, 500*time.Millisecond
	}
	srv, err := env.StartServer(natsserver.SyncInterval)
	if err != nil {
		return err
	}
	if _, err := startHost(ctx, env, srv.ClientURL()); err != nil {
		return err
	}
	c, err := newCaller(ctx, env, srv)
	if err != nil {
		return err
	}
	persons := newPersonIDs(echoActors)
	if err := c.waitHosts(ctx, persons, 1); err != nil {
		return err
	}
	if err := createPersons(ctx, c.client, persons); err != nil {
		return err
	}
	echo := make([]*actor.PID, echoActors)
	for i := range echo {
		echo[i] = actor.NewPID(c.node.Owner(client.PersonKind, persons[0]), echoName+strconv.Itoa(i))
	}
	root := c.node.Cluster().ActorSystem.Root
	grainOp := func(ctx context.Context, w, _ int) (time.Duration, error) {
		t0 := time.Now()
		_, err := c.client.Get(ctx, persons[w])
		return time.Since(t0), err
	}
	rawOp := func(_ context.Context, w, _ int) (time.Duration, error) {
		t0 := time.Now()
		res, err := root.RequestFuture(echo[w], &personv1.GetPerson{PersonId: persons[w]}, 30*time.Second).Result()
		d := time.Since(t0)
		if err != nil {
			return d, err
		}
		if _, ok := res.(*personv1.PersonReply); !ok {
			return d, fmt.Errorf("echo answered %T", res)
		}
		return d, nil
	}
	for _, workers := range []int{1, 64} {
		env.Logf("%d callers, %d rounds of %s", workers, rounds, window)
		if _, _, err := alternate(ctx, 1, workers, window/2, grainOp, rawOp); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		s, r, err := alternate(ctx, rounds, workers, window, grainOp, rawOp)
		if err != nil {
			return err
		}
		suffix := fmt.Sprintf("_c%d", workers)
		env.Compare("ops_per_s"+suffix, s.opsPerSec(), r.opsPerSec(), Higher)
		env.Compare("p50_us"+suffix, s.lat.Micros(0.5), r.lat.Micros(0.5), Lower)
		env.Compare("p99_us"+suffix, s.lat.Micros(0.99), r.lat.Micros(0.99), Lower)
	}
	return nil
}

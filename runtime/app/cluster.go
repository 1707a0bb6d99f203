package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/streamswitch"
	"github.com/cim/personrt/runtime/membership"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/personkind"
	"github.com/cim/personrt/runtime/placement"
)

// Timings of a node's start on a NATS cluster.
const (
	// clusterRetry is the pause between attempts while a NATS cluster
	// forms.
	clusterRetry = 500 * time.Millisecond
	// clusterAttempt bounds one attempt to create or update the store's
	// stream and bucket. Requests to a forming cluster, and concurrent
	// create-or-update requests of one stream from several nodes, can go
	// unanswered (measured with nats-server 2.15.2: each lost request cost
	// its whole timeout); a retry is answered at once.
	clusterAttempt = 2 * time.Second
	// clusterMemberStart bounds a membership start (its KV bucket is
	// created concurrently by every node, see clusterAttempt); the node
	// start is retried after it.
	clusterMemberStart = 3 * time.Second
	// jetStreamPoll bounds one readiness probe of JetStream.
	jetStreamPoll = 250 * time.Millisecond
)

// waitLog logs a wait that has lasted a while, every 5s.
type waitLog struct {
	log   *slog.Logger
	start time.Time
	last  time.Time
}

func newWaitLog(l *slog.Logger) *waitLog {
	now := time.Now()
	return &waitLog{log: l, start: now, last: now}
}

func (w *waitLog) maybe(msg string, err error) {
	if time.Since(w.last) < 5*time.Second {
		return
	}
	w.last = time.Now()
	w.log.Info(msg, slog.Duration("waited", time.Since(w.start).Round(time.Second)), slog.Any(logErr, err))
}

// pause waits d or until ctx ends (false).
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// waitJetStream returns when the JetStream API answers: on a NATS cluster,
// once a quorum of servers has elected the meta leader (a request sent
// before is lost, not refused).
func (a *App) waitJetStream(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("app: jetstream: %w", err)
	}
	w := newWaitLog(a.cfg.Logger)
	for {
		actx, cancel := context.WithTimeout(ctx, jetStreamPoll)
		_, err := js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("app: JetStream cluster not ready: %w (last error: %w)", ctx.Err(), err)
		}
		w.maybe("persond: waiting for the JetStream cluster (a quorum of its servers must run)", err)
		if !pause(ctx, clusterRetry) {
			return fmt.Errorf("app: JetStream cluster not ready: %w", ctx.Err())
		}
	}
}

// startNode creates the person host and the cluster member and starts
// them. On a NATS cluster a failed start is retried (with a new host and
// member) until ctx ends: see clusterMemberStart.
//
// extra makes the node's other kinds afresh for every attempt (a failed
// start shuts the kinds it was given down).
func (a *App) startNode(ctx context.Context, nc *nats.Conn, store kindStore, replicas int, clustered bool, extra func() ([]node.Kind, error)) (*node.Node, error) {
	if _, port, err := splitHostPort(a.cfg.RemoteAddr); err == nil && port != 0 {
		// protoactor-go would panic on it, and a retry could not help.
		if err := portFree(a.cfg.RemoteAddr); err != nil {
			return nil, fmt.Errorf("app: actor system listener on %s (change --remote-addr): %w", a.cfg.RemoteAddr, err)
		}
	}
	retry := clustered && a.cfg.ClusterProvider == nil
	w := newWaitLog(a.cfg.Logger)
	for {
		host, err := personkind.NewHost(a.grainConfig(store))
		if err != nil {
			return nil, fmt.Errorf("app: person host: %w", err)
		}
		others, err := extra()
		if err != nil {
			return nil, err
		}
		ncfg, err := a.nodeConfig(nc, append([]node.Kind{host}, others...), replicas, retry)
		if err != nil {
			return nil, err
		}
		n, err := node.New(ncfg)
		if err != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		err = n.Start(ctx)
		if err == nil {
			return n, nil
		}
		if !retry || !errors.Is(err, node.ErrStart) || ctx.Err() != nil {
			return nil, fmt.Errorf("app: %w", err)
		}
		a.cfg.Logger.Debug("persond: cluster member start failed; retrying", slog.Any(logErr, err))
		w.maybe("persond: waiting to join the cluster", err)
		if !pause(ctx, clusterRetry) {
			return nil, fmt.Errorf("app: %w (while retrying: %w)", ctx.Err(), err)
		}
	}
}

// replicas resolves Config.Replicas once connected: an explicit count, or
// ClusteredReplicas when the server is part of a NATS cluster (embedded
// with a route listener, or external and reporting a cluster name), else 1.
func (a *App) replicas(nc *nats.Conn) (n int, clustered bool) {
	clustered = a.cfg.NATSClusterListen != "" || nc.ConnectedClusterName() != ""
	switch {
	case a.cfg.Replicas != 0:
		return a.cfg.Replicas, clustered
	case clustered:
		return ClusteredReplicas, true
	}
	return 1, false
}

// openStore opens the event and snapshot store. On a NATS cluster it
// retries until ctx ends: JetStream answers only once the cluster has
// elected its meta leader, which needs a quorum of the servers (a node
// started first waits for the others).
func (a *App) openStore(ctx context.Context, nc *nats.Conn, replicas int, clustered bool) (*streamswitch.Store, error) {
	cfg := streamswitch.Config{Base: pjs.Config{Replicas: replicas, Logger: a.cfg.Logger}, Logger: a.cfg.Logger}
	if clustered {
		if err := a.waitJetStream(ctx, nc); err != nil {
			return nil, err
		}
	}
	return openRetrying(ctx, a, clustered, "the event stream (replicas "+strconv.Itoa(replicas)+")", func(ctx context.Context) (*streamswitch.Store, error) {
		return streamswitch.Open(ctx, nc, cfg)
	})
}

// openRetrying runs open once on a lone NATS server. On a NATS cluster it
// bounds each attempt by clusterAttempt and retries until ctx ends:
// creating a replicated stream or bucket fails while the cluster elects
// its leaders.
func openRetrying[T any](ctx context.Context, a *App, clustered bool, what string, open func(context.Context) (T, error)) (T, error) {
	if !clustered {
		v, err := open(ctx)
		if err != nil {
			return v, fmt.Errorf("app: open %s: %w", what, err)
		}
		return v, nil
	}
	start := time.Now()
	w := newWaitLog(a.cfg.Logger)
	for {
		actx, cancel := context.WithTimeout(ctx, clusterAttempt)
		v, err := open(actx)
		cancel()
		if err == nil {
			a.cfg.Logger.Info("persond: opened "+what, slog.Duration("waited", time.Since(start).Round(time.Millisecond)))
			return v, nil
		}
		if ctx.Err() != nil {
			return v, fmt.Errorf("app: open %s: %w (last error: %w)", what, ctx.Err(), err)
		}
		w.maybe("persond: waiting for "+what, err)
		if !pause(ctx, clusterRetry) {
			return v, fmt.Errorf("app: open %s: %w", what, ctx.Err())
		}
	}
}

// nodeConfig builds the cluster member's config: membership provider and
// identity lookup as configured.
func (a *App) nodeConfig(nc *nats.Conn, kinds []node.Kind, replicas int, clustered bool) (node.Config, error) {
	rhost, rport, err := splitHostPort(a.cfg.RemoteAddr)
	if err != nil {
		return node.Config{}, fmt.Errorf("%w: rule config.remote_addr: %w", ErrInvalidConfig, err)
	}
	cfg := node.Config{
		ClusterName: a.cfg.ClusterName, Host: rhost, Port: rport, AdvertisedHost: a.cfg.AdvertisedAddr,
		Kinds: kinds, RequestTimeout: a.cfg.RequestTimeout, Logger: a.cfg.Logger,
	}
	switch {
	case a.cfg.ClusterProvider != nil:
		cfg.Provider = a.cfg.ClusterProvider
	case a.cfg.Provider == ProviderNATS:
		js, err := jetstream.New(nc)
		if err != nil {
			return node.Config{}, fmt.Errorf("app: membership: %w", err)
		}
		opts := []membership.Option{membership.WithLogger(a.cfg.Logger), membership.WithReplicas(replicas), membership.WithTTL(a.cfg.MembershipTTL)}
		if clustered {
			opts = append(opts, membership.WithStartTimeout(clusterMemberStart))
		}
		p, err := membership.New(js, opts...)
		if err != nil {
			return node.Config{}, fmt.Errorf("app: membership: %w", err)
		}
		cfg.Provider = p
	}
	if a.cfg.Lookup == LookupPlacement {
		l, err := placement.New(placement.WithLogger(a.cfg.Logger))
		if err != nil {
			return node.Config{}, fmt.Errorf("app: placement: %w", err)
		}
		cfg.IdentityLookup = l
	}
	return cfg, nil
}

// clusterNATS adds the NATS cluster settings (route listener, seeds, a
// server name unique in the cluster) to the embedded server's config.
func (a *App) clusterNATS(scfg *natsserver.Config) error {
	if a.cfg.NATSName != "" {
		scfg.Name = a.cfg.NATSName
	}
	if a.cfg.NATSClusterListen == "" {
		return nil
	}
	host, port, err := splitHostPort(a.cfg.NATSClusterListen)
	if err != nil {
		return fmt.Errorf("%w: rule config.nats_cluster_listen: %w", ErrInvalidConfig, err)
	}
	if port == 0 {
		port = -1 // natsserver: -1 is a free port
	} else if err := portFree(a.cfg.NATSClusterListen); err != nil {
		return fmt.Errorf("app: NATS route listener on %s (change --nats-cluster-listen): %w", a.cfg.NATSClusterListen, err)
	}
	scfg.ClusterName, scfg.ClusterHost, scfg.ClusterPort, scfg.Routes = a.cfg.NATSClusterName, host, port, a.cfg.NATSRoutes
	if a.cfg.NATSName == "" {
		scfg.Name = defaultServerName(port)
	}
	return nil
}

// defaultServerName is "persond-<hostname>-<route port>": unique per host
// and port, and the same after a restart (JetStream knows its replicas by
// server name). A free port (-1) gets a random name instead.
func defaultServerName(routePort int) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	suffix := strconv.Itoa(routePort)
	if routePort <= 0 {
		suffix = uuid.NewString()[:8]
	}
	return "persond-" + host + "-" + suffix
}

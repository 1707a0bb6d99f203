package app

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/cim/personrt/runtime/gateway"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/membership"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/node"
)

// ErrInvalidConfig is returned by New for a Config that breaks a rule; the
// wrapped message names the rule.
var ErrInvalidConfig = errors.New("app: invalid config")

// Membership providers for Config.Provider. Other protoactor-go providers
// (consul, etcd, k8s, automanaged from its cluster/clusterproviders) are
// plugged in Go through Config.ClusterProvider.
const (
	// ProviderNATS (the default): members register in a NATS JetStream KV
	// bucket (runtime/membership); every node must reach the same NATS (one
	// server or one NATS cluster). A single node is a one-member cluster.
	ProviderNATS = "nats"
	// ProviderStandalone: this node is the whole cluster and sees no other
	// (tests, and a node that must never share grains).
	ProviderStandalone = "standalone"
)

// Identity lookups for Config.Lookup. Every member of a cluster, and every
// client-only member calling it, must use the same one.
const (
	// LookupPlacement (the default) is runtime/placement: even rendezvous
	// placement, grains moved on join and leave.
	LookupPlacement = "placement"
	// LookupDisthash is protoactor-go's rendezvous hashing (FNV-1a: one of
	// three members on one host gets half the grains).
	LookupDisthash = "disthash"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultDataDir         = "./data"
	DefaultNATSAddr        = "127.0.0.1:4222"
	DefaultHTTPAddr        = "127.0.0.1:8080"
	DefaultShutdownTimeout = 20 * time.Second
	// DefaultNATSClusterName names the NATS cluster of embedded servers.
	DefaultNATSClusterName = "persond"
	// ClusteredReplicas is the default replica count on a NATS cluster.
	ClusteredReplicas = 3
	// DefaultSnapshotEvery matches the event store's 16 backlinks: a
	// grain then hydrates its snapshot's tail in one round trip.
	DefaultSnapshotEvery = 16
	// Off disables the HTTP listener (HTTPAddr).
	Off = "off"
)

// Config configures a node. The zero value is a one-member cluster (NATS
// membership, even placement) with an embedded NATS server on
// 127.0.0.1:4222 storing under ./data with fsync on every write, health and
// metrics on 127.0.0.1:8080.
type Config struct {
	// DataDir holds the embedded server's JetStream data. Default
	// DefaultDataDir. Ignored with NATSURL.
	DataDir string
	// NATSURL connects to an external NATS server or cluster (with
	// JetStream) instead of embedding one: one URL or several separated by
	// commas ("nats://10.0.0.5:4222,nats://10.0.0.6:4222").
	NATSURL string
	// NATSAddr is the embedded server's client listener "host:port"; port
	// 0 picks a free one. Default DefaultNATSAddr.
	NATSAddr string
	// NATSMonitorPort serves the embedded server's monitoring endpoints
	// (/varz, /jsz) on the host of NATSAddr; 0 (default) disables them, -1
	// picks a free port.
	NATSMonitorPort int
	// Sync is the embedded server's fsync mode: natsserver.SyncAlways
	// (default: every acknowledged write is on disk) or SyncInterval.
	Sync string
	// SyncInterval is the fsync period with SyncInterval. Default 2m.
	SyncInterval time.Duration
	// NATSClusterListen makes the embedded server a member of a NATS
	// cluster: the "host:port" of its route listener (port 0: a free one).
	// Empty (the default): a lone server.
	NATSClusterListen string
	// NATSRoutes are the route listeners of the other servers of the NATS
	// cluster ("host:port" or "nats://host:port"). Listing this server's
	// own is harmless, so every node may be given the same list.
	NATSRoutes []string
	// NATSClusterName names the NATS cluster. Default
	// DefaultNATSClusterName.
	NATSClusterName string
	// NATSName is the embedded server's name: unique within the NATS
	// cluster and stable across restarts (JetStream's replicas are known
	// by it). Default "persond", or "persond-<hostname>-<route port>" in a
	// NATS cluster.
	NATSName string
	// Replicas of the event stream, the snapshot bucket and the membership
	// bucket. Default 1 on a lone NATS server, ClusteredReplicas on a NATS
	// cluster (an embedded one, or an external server that reports a
	// cluster name).
	Replicas int

	// HTTPAddr serves /healthz, /readyz and /metrics. Default
	// DefaultHTTPAddr; Off disables it; port 0 picks a free one.
	HTTPAddr string

	// ClusterName: nodes with different names never see each other.
	// Default node.DefaultClusterName.
	ClusterName string
	// RemoteAddr is the actor system's gRPC listener "host:port". Default
	// 127.0.0.1:0 (a free port: enough for a standalone node).
	RemoteAddr string
	// AdvertisedAddr is the "host:port" other nodes dial when it differs
	// from RemoteAddr (NAT, containers).
	AdvertisedAddr string
	// Provider is the membership provider: ProviderNATS (default) or
	// ProviderStandalone. Ignored when ClusterProvider is set.
	Provider string
	// ClusterProvider, when set, is the membership provider instead of the
	// one named by Provider: any protoactor-go cluster.ClusterProvider, such
	// as consul, etcd, k8s or automanaged from protoactor-go's
	// cluster/clusterproviders (not linked into persond). It must be new
	// (not started); Shutdown shuts it down.
	ClusterProvider cluster.ClusterProvider
	// MembershipTTL is how long a member stays listed after its last
	// heartbeat with ProviderNATS: a crashed node is dropped (and its
	// grains move) about this long after its crash. Default
	// membership.DefaultTTL.
	MembershipTTL time.Duration
	// Lookup places grains on members: LookupPlacement (default) or
	// LookupDisthash.
	Lookup string
	// RequestTimeout bounds a grain call. Default 5s.
	RequestTimeout time.Duration

	// NoPolicies runs no policy runners on this node (the onboarding kind
	// and the gateway still run). Policies share their durable consumers
	// across the nodes that run them.
	NoPolicies bool
	// ArchiveAfter is the AutoArchive policy's inactivity period. Default
	// 365 days.
	ArchiveAfter time.Duration

	// IdleTimeout passivates a grain idle this long. Default
	// grain.DefaultIdleTimeout.
	IdleTimeout time.Duration
	// SnapshotEvery snapshots a person every this many events. Default
	// DefaultSnapshotEvery; negative disables snapshot writes.
	SnapshotEvery int
	// StateCacheSize bounds the states of passivated grains kept in
	// memory. Default grain.DefaultStateCacheSize.
	StateCacheSize int

	// GatewayPrefix, GatewayQueue, GatewayMaxInFlight and
	// GatewayMaxBodyBytes configure the NATS command gateway; zero means
	// the gateway package's defaults.
	GatewayPrefix       string
	GatewayQueue        string
	GatewayMaxInFlight  int
	GatewayMaxBodyBytes int

	// ShutdownTimeout bounds the drain when Run's ctx ends. Default
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// Logger receives the node's log; nil discards it.
	Logger *slog.Logger
}

// Flags binds every Config field but Logger and ClusterProvider to a flag
// of fs, with the defaults as documented values. Flags that take a
// duration accept Go durations ("30s", "5m").
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", DefaultDataDir, "directory of the embedded NATS server's JetStream data (events, snapshots); created if missing. Ignored with --nats-url")
	fs.StringVar(&c.NATSURL, "nats-url", "", "connect to this external NATS server or cluster (JetStream enabled) instead of embedding one, e.g. nats://10.0.0.5:4222 or a comma-separated list of a cluster's servers")
	fs.StringVar(&c.NATSAddr, "nats-addr", DefaultNATSAddr, "client listener host:port of the embedded NATS server (port 0: any free port). personctl and the nats CLI connect here")
	fs.IntVar(&c.NATSMonitorPort, "nats-monitor-port", 0, "port of the embedded NATS server's monitoring endpoints (/varz, /jsz) on the host of --nats-addr (0: off)")
	fs.StringVar(&c.Sync, "sync", natsserver.SyncAlways, "fsync mode of the embedded server: \"always\" (every acknowledged write is on disk: survives power loss) or \"interval\" (fsync every --sync-interval: survives a process crash, not a power loss; several times faster)")
	fs.DurationVar(&c.SyncInterval, "sync-interval", 2*time.Minute, "fsync period with --sync interval")
	fs.StringVar(&c.NATSClusterListen, "nats-cluster-listen", "", "host:port of the embedded NATS server's route listener: makes it a member of a NATS cluster (with --nats-cluster), streams replicated --replicas times")
	fs.Func("nats-cluster", "comma-separated route listeners (host:port) of the NATS cluster's servers to join; may include this node's own, so every node can get the same list", func(v string) error {
		for r := range strings.SplitSeq(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				c.NATSRoutes = append(c.NATSRoutes, r)
			}
		}
		return nil
	})
	fs.StringVar(&c.NATSClusterName, "nats-cluster-name", DefaultNATSClusterName, "name of the NATS cluster of the embedded servers")
	fs.StringVar(&c.NATSName, "nats-name", "", "embedded NATS server name, unique in the NATS cluster and stable across restarts (default: persond, or persond-<hostname>-<route port> in a NATS cluster)")
	fs.BoolVar(&c.NoPolicies, "no-policies", false, "run no policy runners on this node (welcome, data quality, auto-archive, onboarding, merge bookkeeping)")
	fs.DurationVar(&c.ArchiveAfter, "archive-after", 0, "AutoArchive policy: archive a person after this long without activity (0: 365 days)")
	fs.IntVar(&c.Replicas, "replicas", 0, "replicas of the event stream, snapshot and membership buckets (0: 1 on a lone NATS server, 3 on a NATS cluster)")
	fs.StringVar(&c.HTTPAddr, "http", DefaultHTTPAddr, "host:port serving /healthz (liveness), /readyz (readiness) and /metrics (Prometheus text), or \"off\"")
	fs.StringVar(&c.ClusterName, "cluster-name", node.DefaultClusterName, "actor cluster name: nodes with different names never see each other")
	fs.StringVar(&c.RemoteAddr, "remote-addr", "127.0.0.1:0", "host:port of the actor system's gRPC listener (port 0: any free port; set a reachable address for multi-node clusters)")
	fs.StringVar(&c.AdvertisedAddr, "advertised-addr", "", "host:port other nodes dial to reach this one, when it differs from --remote-addr (NAT, containers)")
	fs.StringVar(&c.Provider, "provider", ProviderNATS, "cluster membership: \"nats\" (members register in a NATS KV bucket; every node must use the same NATS server or cluster; a lone node is a one-member cluster) or \"standalone\" (this node is the whole cluster). Consul, etcd, k8s and automanaged are protoactor-go providers that a Go program can plug in through app.Config.ClusterProvider")
	fs.DurationVar(&c.MembershipTTL, "membership-ttl", membership.DefaultTTL, "with --provider nats: a member whose heartbeats stop is dropped after this long (its grains then move to the others)")
	fs.StringVar(&c.Lookup, "lookup", LookupPlacement, "grain placement: \"placement\" (even rendezvous placement, runtime/placement) or \"disthash\" (protoactor-go's rendezvous hashing: uneven on one host); every node of a cluster must use the same")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", node.DefaultRequestTimeout, "timeout of one command or query inside the cluster")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", grain.DefaultIdleTimeout, "passivate a person grain after this long without messages (its state stays cached)")
	fs.IntVar(&c.SnapshotEvery, "snapshot-every", DefaultSnapshotEvery, "snapshot a person every this many events (negative: never)")
	fs.IntVar(&c.StateCacheSize, "state-cache", grain.DefaultStateCacheSize, "states of passivated persons kept in memory, so that re-activation reads only new events")
	fs.StringVar(&c.GatewayPrefix, "gateway-prefix", gateway.DefaultPrefix, "first subject token of the command gateway: <prefix>.commands.<id>, <prefix>.queries.<id>, <prefix>.history.<id>")
	fs.StringVar(&c.GatewayQueue, "gateway-queue", gateway.DefaultQueue, "NATS queue group the gateways of all nodes share")
	fs.IntVar(&c.GatewayMaxInFlight, "gateway-max-inflight", gateway.DefaultMaxInFlight, "requests the gateway handles at once; more wait in the subscription's buffer")
	fs.IntVar(&c.GatewayMaxBodyBytes, "gateway-max-body", gateway.DefaultMaxBodyBytes, "largest request body in bytes; larger ones are answered RESOURCE_EXHAUSTED")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "bound on the drain after SIGINT/SIGTERM (stop intake, finish in-flight commands, passivate, flush snapshots, stop NATS)")
}

func (c *Config) validate() error {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.NATSAddr == "" {
		c.NATSAddr = DefaultNATSAddr
	}
	if c.Sync == "" {
		c.Sync = natsserver.SyncAlways
	}
	if c.NATSClusterListen != "" && c.NATSClusterName == "" {
		c.NATSClusterName = DefaultNATSClusterName
	}
	if c.MembershipTTL == 0 {
		c.MembershipTTL = membership.DefaultTTL
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.RemoteAddr == "" {
		c.RemoteAddr = "127.0.0.1:0"
	}
	if c.Provider == "" {
		c.Provider = ProviderNATS
	}
	if c.Lookup == "" {
		c.Lookup = LookupPlacement
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.NATSURL == "" {
		if _, _, err := splitHostPort(c.NATSAddr); err != nil {
			return fmt.Errorf("%w: rule config.nats_addr: %w", ErrInvalidConfig, err)
		}
		if c.NATSMonitorPort < -1 || c.NATSMonitorPort > 65535 {
			return fmt.Errorf("%w: rule config.nats_monitor_port: %d is not a port", ErrInvalidConfig, c.NATSMonitorPort)
		}
	}
	if err := c.validateNATSCluster(); err != nil {
		return err
	}
	if _, _, err := splitHostPort(c.RemoteAddr); err != nil {
		return fmt.Errorf("%w: rule config.remote_addr: %w", ErrInvalidConfig, err)
	}
	switch {
	case c.Sync != natsserver.SyncAlways && c.Sync != natsserver.SyncInterval:
		return fmt.Errorf("%w: rule config.sync: %q is not %q or %q", ErrInvalidConfig, c.Sync, natsserver.SyncAlways, natsserver.SyncInterval)
	case c.Provider != ProviderStandalone && c.Provider != ProviderNATS:
		return fmt.Errorf("%w: rule config.provider: %q is not %q or %q", ErrInvalidConfig, c.Provider, ProviderStandalone, ProviderNATS)
	case c.Lookup != LookupDisthash && c.Lookup != LookupPlacement:
		return fmt.Errorf("%w: rule config.lookup: %q is not %q or %q", ErrInvalidConfig, c.Lookup, LookupDisthash, LookupPlacement)
	case c.ShutdownTimeout < 0:
		return fmt.Errorf("%w: rule config.shutdown_timeout: %v is negative", ErrInvalidConfig, c.ShutdownTimeout)
	case c.SyncInterval < 0:
		return fmt.Errorf("%w: rule config.sync_interval: %v is negative", ErrInvalidConfig, c.SyncInterval)
	case c.Replicas < 0 || c.Replicas > 5:
		return fmt.Errorf("%w: rule config.replicas: %d is not 0 (automatic) or 1..5", ErrInvalidConfig, c.Replicas)
	case c.MembershipTTL < membership.MinTTL:
		return fmt.Errorf("%w: rule config.membership_ttl: %v is below %v", ErrInvalidConfig, c.MembershipTTL, membership.MinTTL)
	}
	return nil
}

// validateNATSCluster checks the NATS cluster settings and normalises the
// routes to URLs.
func (c *Config) validateNATSCluster() error {
	switch {
	case c.NATSClusterListen == "" && len(c.NATSRoutes) > 0:
		return fmt.Errorf("%w: rule config.nats_cluster: routes need a route listener of this server (--nats-cluster-listen)", ErrInvalidConfig)
	case c.NATSClusterListen == "":
		return nil
	case c.NATSURL != "":
		return fmt.Errorf("%w: rule config.nats_cluster_listen: the embedded server's cluster settings do not apply to an external NATS (--nats-url)", ErrInvalidConfig)
	}
	if _, _, err := splitHostPort(c.NATSClusterListen); err != nil {
		return fmt.Errorf("%w: rule config.nats_cluster_listen: %w", ErrInvalidConfig, err)
	}
	routes := make([]string, len(c.NATSRoutes)) // not the caller's array
	for i, r := range c.NATSRoutes {
		if !strings.Contains(r, "://") {
			r = "nats://" + r
		}
		u, err := url.Parse(r)
		if err == nil {
			_, _, err = splitHostPort(u.Host)
		}
		if err != nil {
			return fmt.Errorf("%w: rule config.nats_cluster: route %q: %w", ErrInvalidConfig, c.NATSRoutes[i], err)
		}
		routes[i] = r
	}
	c.NATSRoutes = routes
	return nil
}

// splitHostPort splits "host:port" with a numeric port in 0..65535.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q of %q is not 0..65535", p, addr)
	}
	if strings.TrimSpace(host) == "" {
		return "", 0, fmt.Errorf("%q has no host", addr)
	}
	return host, port, nil
}

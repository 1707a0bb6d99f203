package app

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cim/personrt/runtime/gateway"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/node"
)

// ErrInvalidConfig is returned by New for a Config that breaks a rule; the
// wrapped message names the rule.
var ErrInvalidConfig = errors.New("app: invalid config")

// Membership providers for Config.Provider.
const (
	// ProviderStandalone: this node is the whole cluster.
	ProviderStandalone = "standalone"
	// ProviderNATS: members register in a NATS JetStream KV bucket
	// (runtime/membership); every node must reach the same NATS.
	ProviderNATS = "nats"
)

// Identity lookups for Config.Lookup.
const (
	// LookupDisthash is protoactor-go's rendezvous hashing (FNV-1a: uneven
	// on one host with three or more members).
	LookupDisthash = "disthash"
	// LookupPlacement is runtime/placement: even rendezvous placement.
	LookupPlacement = "placement"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultDataDir         = "./data"
	DefaultNATSAddr        = "127.0.0.1:4222"
	DefaultHTTPAddr        = "127.0.0.1:8080"
	DefaultShutdownTimeout = 20 * time.Second
	// DefaultSnapshotEvery matches the event store's 16 backlinks: a
	// grain then hydrates its snapshot's tail in one round trip.
	DefaultSnapshotEvery = 16
	// Off disables the HTTP listener (HTTPAddr).
	Off = "off"
)

// Config configures a node. The zero value is a standalone node with an
// embedded NATS server on 127.0.0.1:4222 storing under ./data with fsync
// on every write, health and metrics on 127.0.0.1:8080.
type Config struct {
	// DataDir holds the embedded server's JetStream data. Default
	// DefaultDataDir. Ignored with NATSURL.
	DataDir string
	// NATSURL connects to an external NATS server (with JetStream) instead
	// of embedding one.
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
	// Replicas of the event stream and snapshot bucket. Default 1.
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
	// Provider is the membership provider: ProviderStandalone (default) or
	// ProviderNATS.
	Provider string
	// Lookup places grains on members: LookupDisthash (default) or
	// LookupPlacement.
	Lookup string
	// RequestTimeout bounds a grain call. Default 5s.
	RequestTimeout time.Duration

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

// Flags binds every Config field but Logger to a flag of fs, with the
// defaults as documented values. Flags that take a duration accept Go
// durations ("30s", "5m").
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", DefaultDataDir, "directory of the embedded NATS server's JetStream data (events, snapshots); created if missing. Ignored with --nats-url")
	fs.StringVar(&c.NATSURL, "nats-url", "", "connect to this external NATS server (JetStream enabled) instead of embedding one, e.g. nats://10.0.0.5:4222")
	fs.StringVar(&c.NATSAddr, "nats-addr", DefaultNATSAddr, "client listener host:port of the embedded NATS server (port 0: any free port). personctl and the nats CLI connect here")
	fs.IntVar(&c.NATSMonitorPort, "nats-monitor-port", 0, "port of the embedded NATS server's monitoring endpoints (/varz, /jsz) on the host of --nats-addr (0: off)")
	fs.StringVar(&c.Sync, "sync", natsserver.SyncAlways, "fsync mode of the embedded server: \"always\" (every acknowledged write is on disk: survives power loss) or \"interval\" (fsync every --sync-interval: survives a process crash, not a power loss; several times faster)")
	fs.DurationVar(&c.SyncInterval, "sync-interval", 2*time.Minute, "fsync period with --sync interval")
	fs.IntVar(&c.Replicas, "replicas", 1, "replicas of the event stream and snapshot bucket (3 on a clustered NATS)")
	fs.StringVar(&c.HTTPAddr, "http", DefaultHTTPAddr, "host:port serving /healthz (liveness), /readyz (readiness) and /metrics (Prometheus text), or \"off\"")
	fs.StringVar(&c.ClusterName, "cluster-name", node.DefaultClusterName, "actor cluster name: nodes with different names never see each other")
	fs.StringVar(&c.RemoteAddr, "remote-addr", "127.0.0.1:0", "host:port of the actor system's gRPC listener (port 0: any free port; set a reachable address for multi-node clusters)")
	fs.StringVar(&c.AdvertisedAddr, "advertised-addr", "", "host:port other nodes dial to reach this one, when it differs from --remote-addr (NAT, containers)")
	fs.StringVar(&c.Provider, "provider", ProviderStandalone, "cluster membership: \"standalone\" (this node is the whole cluster) or \"nats\" (members register in a NATS KV bucket; every node must use the same NATS, e.g. --nats-url of the first node)")
	fs.StringVar(&c.Lookup, "lookup", LookupDisthash, "grain placement: \"disthash\" (protoactor-go's rendezvous hashing) or \"placement\" (even rendezvous placement, runtime/placement)")
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
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.RemoteAddr == "" {
		c.RemoteAddr = "127.0.0.1:0"
	}
	if c.Provider == "" {
		c.Provider = ProviderStandalone
	}
	if c.Lookup == "" {
		c.Lookup = LookupDisthash
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
	}
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

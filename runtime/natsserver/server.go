package natsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ErrInvalidConfig is returned by Start for a Config that breaks a rule.
var ErrInvalidConfig = errors.New("natsserver: invalid config")

// Sync modes for Config.Sync.
const (
	// SyncAlways fsyncs every acknowledged write (the single-node default:
	// lazy fsync loses acknowledged writes on power loss).
	SyncAlways = "always"
	// SyncInterval fsyncs every Config.SyncInterval; an acknowledged write
	// survives a process crash but not a power loss.
	SyncInterval = "interval"
)

// Config configures the embedded server. The zero value is a usable default
// except for StoreDir, which is required.
type Config struct {
	// Name is the server name; unique within a NATS cluster. Default "persond".
	Name string
	// StoreDir holds the JetStream data (under StoreDir/jetstream). Required.
	StoreDir string
	// Host is the client listener address. Default 127.0.0.1.
	Host string
	// Port is the client port; 0 means 4222, -1 a random free port.
	Port int
	// DontListen runs without a TCP listener: connect with InProcess().
	DontListen bool
	// MaxMemory and MaxStore cap JetStream memory and disk. Defaults 1 GiB
	// and 64 GiB (the server's own default is 75% of RAM and of free disk).
	MaxMemory int64
	MaxStore  int64
	// Sync is SyncAlways (default) or SyncInterval.
	Sync string
	// SyncInterval is the fsync period for SyncInterval mode. Default 2m.
	SyncInterval time.Duration
	// MonitorPort serves /healthz, /varz, /jsz; 0 disables it, -1 random.
	MonitorPort int
	// Cluster, when ClusterPort != 0, makes the server a member of a NATS
	// cluster named ClusterName with the given route seeds.
	ClusterName string
	ClusterHost string
	ClusterPort int // -1 random
	Routes      []string
	// ReadyTimeout bounds Start. Default 10s.
	ReadyTimeout time.Duration
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.StoreDir == "" {
		return fmt.Errorf("%w: StoreDir is required", ErrInvalidConfig)
	}
	if c.Name == "" {
		c.Name = "persond"
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = 4222
	}
	if c.MaxMemory == 0 {
		c.MaxMemory = 1 << 30
	}
	if c.MaxStore == 0 {
		c.MaxStore = 64 << 30
	}
	switch c.Sync {
	case "":
		c.Sync = SyncAlways
	case SyncAlways, SyncInterval:
	default:
		return fmt.Errorf("%w: Sync %q: want %q or %q", ErrInvalidConfig, c.Sync, SyncAlways, SyncInterval)
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = 2 * time.Minute
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 10 * time.Second
	}
	if c.ClusterPort != 0 && c.ClusterName == "" {
		c.ClusterName = "persond"
	}
	if c.ClusterHost == "" {
		c.ClusterHost = c.Host
	}
	return nil
}

// Server is a running embedded nats-server.
type Server struct {
	ns  *server.Server
	cfg Config
}

// Start starts the server and waits until it accepts connections.
func Start(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts := &server.Options{
		ServerName:         cfg.Name,
		Host:               cfg.Host,
		Port:               cfg.Port,
		DontListen:         cfg.DontListen,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxMemory: cfg.MaxMemory,
		JetStreamMaxStore:  cfg.MaxStore,
		SyncAlways:         cfg.Sync == SyncAlways,
		SyncInterval:       cfg.SyncInterval,
		NoSigs:             true,
		NoLog:              cfg.Logger == nil,
		MaxPayload:         8 << 20,
	}
	if cfg.MonitorPort != 0 {
		opts.HTTPHost = cfg.Host
		opts.HTTPPort = cfg.MonitorPort
	}
	if cfg.ClusterPort != 0 {
		opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: cfg.ClusterHost, Port: cfg.ClusterPort}
		for _, r := range cfg.Routes {
			opts.Routes = append(opts.Routes, server.RoutesFromStr(r)...)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: new server: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLogger(&slogAdapter{l: cfg.Logger}, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(cfg.ReadyTimeout) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsserver: not ready for connections within %s", cfg.ReadyTimeout)
	}
	return &Server{ns: ns, cfg: cfg}, nil
}

// ClientURL is the URL clients connect to ("" with DontListen).
func (s *Server) ClientURL() string {
	if s.cfg.DontListen {
		return ""
	}
	return s.ns.ClientURL()
}

// ClusterURL is the route URL other cluster members use as a seed ("" when
// not clustered).
func (s *Server) ClusterURL() string {
	addr := s.ns.ClusterAddr()
	if addr == nil {
		return ""
	}
	return "nats://" + net.JoinHostPort(s.cfg.ClusterHost, strconv.Itoa(addr.Port))
}

// MonitorAddr is the host:port of the monitoring endpoint, "" if disabled.
func (s *Server) MonitorAddr() string {
	addr := s.ns.MonitorAddr()
	if addr == nil {
		return ""
	}
	return addr.String()
}

// Name is the server name.
func (s *Server) Name() string { return s.cfg.Name }

// ConnectOptions returns the options that connect a client to this server
// (in-process when it does not listen).
func (s *Server) ConnectOptions() []nats.Option {
	if s.cfg.DontListen {
		return []nats.Option{nats.InProcessServer(s.ns)}
	}
	return nil
}

// Connect opens a client connection to the server.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(s.ClientURL(), append(s.ConnectOptions(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("natsserver: connect: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server, entering lame-duck mode first when it is part
// of a cluster so that stream leaders move away, and waits until it is down
// or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("natsserver: shutdown: %w", ctx.Err())
	}
}

// Kill stops the server at once, as a crash would (tests).
func (s *Server) Kill() { s.ns.Shutdown() }

// Running reports whether the server is running.
func (s *Server) Running() bool { return s.ns.Running() }

// NATS exposes the underlying server for monitoring (Varz, Jsz). Tests only.
func (s *Server) NATS() *server.Server { return s.ns }

// slogAdapter forwards the server log to slog.
type slogAdapter struct{ l *slog.Logger }

func (a *slogAdapter) Noticef(format string, v ...any) {
	a.l.Info(fmt.Sprintf(format, v...), slog.String("component", "nats-server"))
}
func (a *slogAdapter) Warnf(format string, v ...any) {
	a.l.Warn(fmt.Sprintf(format, v...), slog.String("component", "nats-server"))
}
func (a *slogAdapter) Fatalf(format string, v ...any) {
	a.l.Error(fmt.Sprintf(format, v...), slog.String("component", "nats-server"))
}
func (a *slogAdapter) Errorf(format string, v ...any) {
	a.l.Error(fmt.Sprintf(format, v...), slog.String("component", "nats-server"))
}
func (a *slogAdapter) Debugf(format string, v ...any) {
	a.l.Debug(fmt.Sprintf(format, v...), slog.String("component", "nats-server"))
}
func (a *slogAdapter) Tracef(format string, v ...any) {
	a.l.Debug(fmt.Sprintf(format, v...), slog.String("component", "nats-server"))
}

package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/actors/onboarding"
	"github.com/cim/personrt/persistence/streamswitch"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/gateway"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/node"
)

// Errors returned by Start.
var (
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("app: already started")
	// ErrClosed is returned by Start after Shutdown.
	ErrClosed = errors.New("app: closed")
)

// Log attribute keys.
const (
	logErr  = "err"
	logAddr = "addr"
)

// App is one node. Its methods are safe for concurrent use.
type App struct {
	cfg     Config
	metrics *nodeMetrics
	ready   atomic.Bool

	mu      sync.Mutex // guards the fields below; not held while stopping parts
	started bool
	closed  bool
	parts   parts
}

// parts are what Start started, in start order; nil when not (yet) up.
type parts struct {
	httpSrv   *http.Server
	httpAddr  string
	httpDone  chan struct{} // closed when Serve returned
	nats      *natsserver.Server
	natsURL   string
	nc        *nats.Conn
	replicas  int // of the stream and buckets, resolved once connected
	store     *streamswitch.Store
	routeStop func() // stops the store's route watch and waits for it
	node      *node.Node
	persons   *client.Client
	gateway   *gateway.Gateway
	reactive  reactive
}

// New validates cfg (filling defaults) and returns an App. It starts
// nothing.
func New(cfg Config) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg}
	a.metrics = newNodeMetrics(a.ready.Load, a.inFlight)
	return a, nil
}

// Run starts the node, serves until ctx ends, then shuts down within
// Config.ShutdownTimeout. It returns nil after a clean shutdown.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	a.cfg.Logger.Info("persond: shutting down", slog.Duration("timeout", a.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	if err := a.Shutdown(sctx); err != nil {
		return err
	}
	a.cfg.Logger.Info("persond: stopped", slog.Duration("took", time.Since(start).Round(time.Millisecond)))
	return nil
}

// Start starts every part and returns when the node serves. On failure it
// stops what it started and returns the error.
func (a *App) Start(ctx context.Context) error {
	a.mu.Lock()
	switch {
	case a.closed:
		a.mu.Unlock()
		return ErrClosed
	case a.started:
		a.mu.Unlock()
		return ErrStarted
	}
	a.started = true
	a.mu.Unlock()

	err := a.start(ctx)
	if err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
		defer cancel()
		if serr := a.Shutdown(sctx); serr != nil {
			a.cfg.Logger.Warn("persond: cleanup after a failed start", slog.Any(logErr, serr))
		}
		return err
	}
	a.ready.Store(true)
	p := a.snapshot()
	a.cfg.Logger.Info("persond: ready", slog.String("nats", p.natsURL), slog.String("http", p.httpAddr),
		slog.String("node", p.node.Address()), slog.String("provider", a.cfg.Provider), slog.String("data_dir", a.dataDir()))
	return nil
}

// start brings the parts up one by one, recording each as it comes up.
func (a *App) start(ctx context.Context) error {
	if err := a.startHTTP(); err != nil {
		return err
	}
	if err := a.startNATS(); err != nil {
		return err
	}
	p := a.snapshot()
	replicas, clustered := a.replicas(p.nc)
	a.set(func(p *parts) { p.replicas = replicas })
	store, err := a.openStore(ctx, p.nc, replicas, clustered)
	if err != nil {
		return err
	}
	routeCtx, stopRoute := context.WithCancel(context.WithoutCancel(ctx))
	routeDone := make(chan struct{})
	go func() {
		defer close(routeDone)
		if err := store.Run(routeCtx); err != nil && routeCtx.Err() == nil {
			a.cfg.Logger.Error("persond: stream route watch ended", slog.Any(logErr, err))
		}
	}()
	a.set(func(p *parts) { p.store, p.routeStop = store, func() { stopRoute(); <-routeDone } })

	onbStore, err := a.openOnboarding(ctx, p.nc, replicas, clustered)
	if err != nil {
		return err
	}
	a.set(func(p *parts) { p.reactive.onbStore = onbStore })

	n, err := a.startNode(ctx, p.nc, store, replicas, clustered, func() ([]node.Kind, error) {
		h, err := a.onboardingHost(onbStore)
		if err != nil {
			return nil, err
		}
		return []node.Kind{h}, nil
	})
	if err != nil {
		return err
	}
	a.set(func(p *parts) { p.node = n })

	onbClient, err := client.New(n.Cluster(), client.Config{Kind: onboarding.KindName, Timeout: a.cfg.RequestTimeout, Owner: n.Owner})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.set(func(p *parts) { p.reactive.onbClient = onbClient })
	r := a.snapshot().reactive
	err = a.startPolicies(ctx, p.nc, n.Cluster(), store, onbStore, replicas, clustered, &r)
	a.set(func(p *parts) { p.reactive = r })
	if err != nil {
		return err
	}

	persons, err := client.New(n.Cluster(), client.Config{Timeout: a.cfg.RequestTimeout, Owner: n.Owner})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.set(func(p *parts) { p.persons = persons })
	gw, err := gateway.New(gateway.Config{
		Conn: p.nc, Persons: persons, History: store, Onboarding: onbClient,
		Prefix: a.cfg.GatewayPrefix, Queue: a.cfg.GatewayQueue,
		MaxInFlight: a.cfg.GatewayMaxInFlight, MaxBodyBytes: a.cfg.GatewayMaxBodyBytes,
		Timeout: a.cfg.RequestTimeout, Logger: a.cfg.Logger, Observer: a.metrics.observeGateway,
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	if err := gw.Start(ctx); err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.set(func(p *parts) { p.gateway = gw })
	return nil
}

// startHTTP listens and serves health and metrics, unless disabled.
func (a *App) startHTTP() error {
	if a.cfg.HTTPAddr == Off {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("app: http listener %s (change --http or use --http off): %w", a.cfg.HTTPAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", a.metrics.reg)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.cfg.Logger.Error("persond: http server stopped", slog.Any(logErr, err))
		}
	}()
	a.set(func(p *parts) { p.httpSrv, p.httpAddr, p.httpDone = srv, ln.Addr().String(), done })
	return nil
}

// startNATS starts the embedded server (or not, with NATSURL) and connects.
func (a *App) startNATS() error {
	opts := []nats.Option{nats.Name("persond"), nats.MaxReconnects(-1)}
	if a.cfg.NATSURL != "" {
		nc, err := nats.Connect(a.cfg.NATSURL, opts...)
		if err != nil {
			return fmt.Errorf("app: connect to %s: %w", a.cfg.NATSURL, err)
		}
		a.set(func(p *parts) { p.nc, p.natsURL = nc, a.cfg.NATSURL })
		return nil
	}
	if err := os.MkdirAll(a.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("app: data dir: %w", err)
	}
	host, port, err := splitHostPort(a.cfg.NATSAddr)
	if err != nil {
		return fmt.Errorf("%w: rule config.nats_addr: %w", ErrInvalidConfig, err)
	}
	if port == 0 {
		port = -1 // natsserver: 0 means 4222, -1 a free port
	} else if err := portFree(a.cfg.NATSAddr); err != nil {
		// The server would retry for its ready timeout before giving up.
		return fmt.Errorf("app: embedded NATS on %s (another persond or nats-server running? change --nats-addr): %w", a.cfg.NATSAddr, err)
	}
	scfg := natsserver.Config{
		Name: "persond", StoreDir: a.cfg.DataDir, Host: host, Port: port,
		Sync: a.cfg.Sync, SyncInterval: a.cfg.SyncInterval, MonitorPort: a.cfg.NATSMonitorPort,
		Logger: a.cfg.Logger,
	}
	if err := a.clusterNATS(&scfg); err != nil {
		return err
	}
	srv, err := natsserver.Start(scfg)
	if err != nil {
		return fmt.Errorf("app: embedded NATS on %s (another persond or nats-server running? change --nats-addr): %w", a.cfg.NATSAddr, err)
	}
	a.set(func(p *parts) { p.nats, p.natsURL = srv, srv.ClientURL() })
	if scfg.ClusterPort != 0 {
		a.cfg.Logger.Info("persond: embedded NATS joins a NATS cluster", slog.String("server", srv.Name()),
			slog.String("cluster", scfg.ClusterName), slog.String("routes_listen", srv.ClusterURL()), slog.Any("routes", scfg.Routes))
	}
	nc, err := srv.Connect(opts...)
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	a.set(func(p *parts) { p.nc = nc })
	return nil
}

// Shutdown drains the node (see the package doc) and stops every part that
// is up, within ctx. Later calls return nil.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	p := a.parts
	a.mu.Unlock()
	a.ready.Store(false)

	var errs []error
	if p.gateway != nil {
		if err := p.gateway.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.reactive.shutdownPolicies(ctx); err != nil {
		errs = append(errs, fmt.Errorf("app: %w", err))
	}
	if p.reactive.onbClient != nil {
		if err := p.reactive.onbClient.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: %w", err))
		}
	}
	if p.persons != nil {
		if err := p.persons.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: %w", err))
		}
	}
	if p.node != nil {
		if err := p.node.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if p.routeStop != nil {
		p.routeStop()
	}
	if p.store != nil {
		if err := p.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("app: close event store: %w", err))
		}
	}
	if p.reactive.onbStore != nil {
		_ = p.reactive.onbStore.Close() // as above
	}
	if p.nc != nil {
		if err := p.nc.FlushWithContext(ctx); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("app: flush NATS connection: %w", err))
		}
		p.nc.Close()
	}
	if p.nats != nil {
		if err := p.nats.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if p.httpSrv != nil {
		if err := p.httpSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("app: http shutdown: %w", err))
		}
		<-p.httpDone
	}
	return errors.Join(errs...)
}

// portFree reports an error when addr cannot be listened on now.
func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

func (a *App) set(f func(*parts)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(&a.parts)
}

func (a *App) snapshot() parts {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.parts
}

func (a *App) inFlight() int {
	if gw := a.snapshot().gateway; gw != nil {
		return gw.InFlight()
	}
	return 0
}

func (a *App) dataDir() string {
	if a.cfg.NATSURL != "" {
		return ""
	}
	return a.cfg.DataDir
}

// Ready reports whether the node serves (what /readyz answers).
func (a *App) Ready() bool { return a.ready.Load() }

// NATSURL returns the URL of the NATS server the node uses ("" before
// Start): clients such as personctl connect there.
func (a *App) NATSURL() string { return a.snapshot().natsURL }

// HTTPAddr returns the address of the health and metrics listener ("" when
// disabled or before Start).
func (a *App) HTTPAddr() string { return a.snapshot().httpAddr }

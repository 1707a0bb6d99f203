package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Sentinel errors.
var (
	// ErrClosed is returned by StartMember and StartClient after Shutdown.
	ErrClosed = errors.New("membership: provider shut down")
	// ErrStarted is returned by StartMember and StartClient on a Provider
	// that was already started: use one Provider per cluster.Cluster.
	ErrStarted = errors.New("membership: provider already started")
)

// Log attribute keys.
const (
	logKeyBucket  = "bucket"
	logKeyKey     = "key"
	logKeyMember  = "member"
	logKeyMembers = "members"
	logKeyReason  = "reason"
	logKeyError   = "error"
	logKeyRole    = "role"
	logKeyOp      = "operation"
)

type state int

const (
	stateIdle state = iota
	stateRunning
	stateClosed
)

// Provider is a protoactor-go cluster.ClusterProvider that keeps the
// member list in a NATS JetStream KV bucket. See the package doc for the
// protocol. Create it with New, pass it to cluster.Configure, and let the
// cluster call StartMember or StartClient; call Shutdown when the node
// stops (protoactor-go's Cluster.Shutdown(true) does, Cluster.Shutdown(false)
// does not).
//
// Its methods are safe for concurrent use. A Provider serves one cluster
// and one start; a second start returns ErrStarted.
type Provider struct {
	js   jetstream.JetStream
	opts options

	mu    sync.Mutex // guards the fields below
	state state
	// cancel ends the loop's context; done is closed when the loop has
	// returned, after which Shutdown may use the loop's fields.
	cancel context.CancelFunc
	done   chan struct{}
	loop   *loop
}

var _ cluster.ClusterProvider = (*Provider)(nil)

// New returns a Provider that stores members in js. It starts nothing and
// does no I/O: the cluster's StartMember or StartClient does.
func New(js jetstream.JetStream, opts ...Option) (*Provider, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: jetstream: must not be nil", ErrInvalidOption)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{js: js, opts: o}, nil
}

// StartMember registers this actor system as a member: it creates or
// updates the bucket, puts the member's key ({Id: ActorSystem.ID, Host,
// Port, Kinds}), reads the current members and publishes them to
// c.MemberList before it returns; then a goroutine keeps the heartbeat and
// the watch running until Shutdown. protoactor-go calls it from
// Cluster.StartMember, which panics on an error.
func (p *Provider) StartMember(c *cluster.Cluster) error {
	return p.start(c, true)
}

// StartClient watches the members without registering: a client member
// can call grains but hosts none. Like StartMember, it publishes the
// current members before it returns.
func (p *Provider) StartClient(c *cluster.Cluster) error {
	return p.start(c, false)
}

func (p *Provider) start(c *cluster.Cluster, member bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case stateClosed:
		return ErrClosed
	case stateRunning:
		return ErrStarted
	}
	l, err := newLoop(p.js, &p.opts, c, member)
	if err != nil {
		return err
	}
	status := p.js.Conn().StatusChanged(nats.CONNECTED, nats.CLOSED)
	// The ClusterProvider interface carries no context: the provider roots
	// its own, bounded by the start timeout here and ended by Shutdown.
	ctx, cancel := context.WithCancel(context.Background())
	startCtx, cancelStart := context.WithTimeout(ctx, p.opts.startTimeout)
	defer cancelStart()
	if err := l.connect(startCtx, ctx); err != nil {
		cancel()
		l.stopWatch()
		p.js.Conn().RemoveStatusListener(status)
		return fmt.Errorf("membership: start %s: %w", l.describe(), err)
	}
	if err := l.loadInitial(startCtx); err != nil {
		cancel()
		l.stopWatch()
		p.js.Conn().RemoveStatusListener(status)
		return fmt.Errorf("membership: start %s: %w", l.describe(), err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer p.js.Conn().RemoveStatusListener(status)
		l.run(ctx, status)
	}()
	p.state, p.cancel, p.done, p.loop = stateRunning, cancel, done, l
	return nil
}

// Shutdown stops the heartbeat and the watch and waits for them. When
// graceful and started as a member, it then deletes the member's key, so
// that the others see the leave at once instead of after the TTL. Calls
// after the first return nil. An error means the key could not be deleted
// (it then expires after the TTL).
func (p *Provider) Shutdown(graceful bool) error {
	p.mu.Lock()
	prev := p.state
	p.state = stateClosed
	cancel, done, l := p.cancel, p.done, p.loop
	p.mu.Unlock()
	if prev != stateRunning {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-time.After(p.opts.startTimeout):
		return fmt.Errorf("membership: shutdown %s: loop did not stop within %s", l.describe(), p.opts.startTimeout)
	}
	if !graceful || !l.member || l.kv == nil {
		return nil
	}
	// No context reaches Shutdown through the ClusterProvider interface.
	ctx, cancelDelete := context.WithTimeout(context.Background(), l.opTimeout())
	defer cancelDelete()
	if err := l.kv.Delete(ctx, l.key); err != nil {
		return fmt.Errorf("membership: deregister %s: %w", l.key, err)
	}
	l.log.Info("membership: deregistered")
	return nil
}

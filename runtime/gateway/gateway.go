package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// Errors returned by Start.
var (
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("gateway: already started")
	// ErrClosed is returned by Start after Shutdown.
	ErrClosed = errors.New("gateway: closed")
)

// Log attribute keys.
const (
	logSubject = "subject"
	logKind    = "kind"
	logCode    = "code"
	logRule    = "rule"
	logErr     = "err"
)

// route is one of the gateway's subject families.
type route struct {
	kind  string // Handled.Kind
	token string // the subject token after the prefix
}

// Subject tokens after the prefix: <prefix>.<token>.<personID>.
const (
	TokenCommands = "commands"
	TokenQueries  = "queries"
	TokenHistory  = "history"
)

var (
	commands = route{kind: "command", token: TokenCommands}
	queries  = route{kind: "query", token: TokenQueries}
	history  = route{kind: "history", token: TokenHistory}
)

// errorReply wraps e in the reply message of r.
func (r route) errorReply(e *personv1.Error) proto.Message {
	switch r {
	case commands:
		return &personv1.CommandReply{Reply: &personv1.CommandReply_Error{Error: e}}
	case queries:
		return &personv1.PersonReply{Reply: &personv1.PersonReply_Error{Error: e}}
	}
	return e
}

// errorOf returns the error a reply carries, nil for a success.
func errorOf(m proto.Message) *personv1.Error {
	switch r := m.(type) {
	case *personv1.CommandReply:
		return r.GetError()
	case *personv1.PersonReply:
		return r.GetError()
	case *personv1.Error:
		return r
	}
	return nil
}

// Gateway serves the person subjects of one node on a NATS queue group.
type Gateway struct {
	cfg Config

	sem   chan struct{} // a slot per request in flight
	abort chan struct{} // closed when Shutdown gives up waiting
	wg    sync.WaitGroup

	mu      sync.Mutex // guards the fields below; Start holds it while it subscribes, Shutdown never while it waits
	started bool
	closed  bool
	stopped bool // no handler goroutine may be added any more
	subs    []*nats.Subscription
	life    context.Context // parent of every request's context
	cancel  context.CancelFunc
}

// New validates cfg (filling defaults) and returns a Gateway. It starts
// nothing.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Gateway{cfg: cfg, sem: make(chan struct{}, cfg.MaxInFlight), abort: make(chan struct{})}, nil
}

// Subject returns the subject of token (TokenCommands, TokenQueries,
// TokenHistory) for personID under prefix: "person.commands.ada".
func Subject(prefix, token, personID string) string {
	return prefix + "." + token + "." + personID
}

// Start subscribes to the gateway's subjects in the queue group and
// returns once the server has registered the subscriptions. Requests are
// served until Shutdown; ctx's values (not its cancellation) reach the
// handlers.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		return ErrClosed
	case g.started:
		return ErrStarted
	}
	g.life, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, r := range []route{commands, queries, history} {
		subj := g.cfg.Prefix + "." + r.token + ".>"
		sub, err := g.cfg.Conn.QueueSubscribe(subj, g.cfg.Queue, g.dispatch(r))
		if err == nil {
			g.subs = append(g.subs, sub)
			err = sub.SetPendingLimits(64*1024, 64<<20)
		}
		if err != nil {
			g.unsubscribeLocked()
			return fmt.Errorf("gateway: subscribe %s: %w", subj, err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	if err := g.cfg.Conn.FlushWithContext(fctx); err != nil {
		g.unsubscribeLocked()
		return fmt.Errorf("gateway: register subscriptions: %w", err)
	}
	g.started = true
	return nil
}

// unsubscribeLocked undoes a failed Start.
func (g *Gateway) unsubscribeLocked() {
	for _, s := range g.subs {
		// Start reports the failure that matters; the connection may be
		// the reason this one fails too.
		_ = s.Unsubscribe()
	}
	g.subs = nil
	g.cancel()
}

// Shutdown stops taking requests and drains: the server stops delivering
// to this node, requests already delivered and those in flight are
// answered, then it returns. When ctx ends first, the remaining requests
// are answered UNAVAILABLE, handlers' contexts are cancelled, and Shutdown
// returns ctx's error once every handler goroutine has returned.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	subs, started := g.subs, g.started
	g.mu.Unlock()
	if !started {
		return nil
	}
	var errs []error
	closed := make([]<-chan nats.SubStatus, len(subs))
	for i, s := range subs {
		closed[i] = s.StatusChanged(nats.SubscriptionClosed)
		if err := s.Drain(); err != nil {
			errs = append(errs, fmt.Errorf("gateway: drain %s: %w", s.Subject, err))
		}
	}
	for i, s := range subs {
		select {
		case <-closed[i]:
		case <-ctx.Done():
			g.giveUp()
			// The subscription may already be gone; the error is ctx's.
			_ = s.Unsubscribe()
		}
	}
	g.mu.Lock()
	g.stopped = true
	g.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.wg.Wait()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		g.giveUp()
		<-done // handlers return promptly once their contexts are cancelled
	}
	g.cancel()
	if err := ctx.Err(); err != nil {
		errs = append(errs, fmt.Errorf("gateway: shutdown: %w", err))
	}
	return errors.Join(errs...)
}

// giveUp answers waiting requests UNAVAILABLE and cancels the handlers.
func (g *Gateway) giveUp() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.abort:
	default:
		close(g.abort)
		g.cancel()
	}
}

// dispatch is the subscription callback of route r: it waits for a slot
// and hands the request to a handler goroutine.
func (g *Gateway) dispatch(r route) nats.MsgHandler {
	return func(m *nats.Msg) {
		if m.Reply == "" {
			g.cfg.Logger.Debug("gateway: dropped a message without a reply subject", slog.String(logSubject, m.Subject))
			return
		}
		select {
		case g.sem <- struct{}{}:
		case <-g.abort:
			g.unavailable(r, m)
			return
		}
		g.mu.Lock()
		if g.stopped {
			g.mu.Unlock()
			<-g.sem
			g.unavailable(r, m)
			return
		}
		g.wg.Add(1)
		g.mu.Unlock()
		go func() {
			defer g.wg.Done()
			defer func() { <-g.sem }()
			g.handle(r, m)
		}()
	}
}

// unavailable answers m at once: the node is shutting down.
func (g *Gateway) unavailable(r route, m *nats.Msg) {
	enc, _ := encodingOf(m.Header)
	e := personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "gateway.shutting_down", "this node is shutting down; retry with the same command id")
	g.respond(m, enc, r.errorReply(e))
	g.observe(Handled{Kind: r.kind, Code: e.Code, Rule: e.Rule})
}

// handle answers one request; a panic becomes an INTERNAL reply.
func (g *Gateway) handle(r route, m *nats.Msg) {
	start := time.Now()
	h := Handled{Kind: r.kind}
	enc, known := encodingOf(m.Header)
	var reply proto.Message
	defer func() {
		if v := recover(); v != nil {
			g.cfg.Logger.Error("gateway: handler panicked", slog.String(logSubject, m.Subject), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			reply = r.errorReply(personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "gateway.panic", "the gateway failed on this request (a bug); it keeps serving"))
		}
		if reply != nil {
			g.respond(m, enc, reply)
		}
		if e := errorOf(reply); e != nil {
			h.Code, h.Rule = e.GetCode(), e.GetRule()
			g.logRejection(m.Subject, r, e)
		}
		h.Took = time.Since(start)
		g.observe(h)
	}()
	id, e := g.personID(r, m.Subject)
	h.PersonID = id
	switch {
	case e != nil:
	case !known:
		e = personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.content_type", "content type %q: use %s (default) or %s", m.Header.Get(HeaderContentType), ContentTypeJSON, ContentTypeProtobuf)
	case len(m.Data) > g.cfg.MaxBodyBytes:
		e = personv1.Reject(personv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "gateway.body_size", "the body has %d bytes, the limit is %d", len(m.Data), g.cfg.MaxBodyBytes)
	}
	if e != nil {
		e.PersonId = id
		reply = r.errorReply(e)
		return
	}
	ctx, cancel := context.WithTimeout(g.life, g.cfg.Timeout)
	defer cancel()
	switch r {
	case commands:
		reply = g.command(ctx, id, m.Data, enc, &h)
	case queries:
		reply = g.query(ctx, id, m.Data, enc)
	case history:
		if e := g.history(ctx, id, m, enc); e != nil {
			reply = e
		}
	}
}

// personID returns the person id of subject, which must be
// <prefix>.<token>.<personID> with a valid id.
func (g *Gateway) personID(r route, subject string) (string, *personv1.Error) {
	id, ok := strings.CutPrefix(subject, g.cfg.Prefix+"."+r.token+".")
	if !ok || strings.Contains(id, ".") {
		return "", personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.subject", "subject %q is not %s", subject, Subject(g.cfg.Prefix, r.token, "<personID>"))
	}
	if err := persistence.CheckPersonID(id); err != nil {
		return "", personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.subject", "subject %q: %v", subject, err)
	}
	return id, nil
}

// respond publishes reply to m's reply subject.
func (g *Gateway) respond(m *nats.Msg, enc encoding, reply proto.Message) {
	out, err := enc.message(m.Reply, reply)
	if err == nil {
		err = g.cfg.Conn.PublishMsg(out)
	}
	if err != nil {
		g.cfg.Logger.Warn("gateway: reply not sent", slog.String(logSubject, m.Subject), slog.Any(logErr, err))
	}
}

func (g *Gateway) logRejection(subject string, r route, e *personv1.Error) {
	level := slog.LevelDebug
	switch e.GetCode() {
	case personv1.ErrorCode_ERROR_CODE_INTERNAL:
		level = slog.LevelError
	case personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED:
		level = slog.LevelWarn
	}
	g.cfg.Logger.Log(g.life, level, "gateway: request failed", slog.String(logSubject, subject), slog.String(logKind, r.kind),
		slog.String(logCode, e.GetCode().String()), slog.String(logRule, e.GetRule()), slog.String(logErr, e.GetMessage()))
}

func (g *Gateway) observe(h Handled) {
	if g.cfg.Observer != nil {
		g.cfg.Observer(h)
	}
}

// InFlight returns the number of requests being handled.
func (g *Gateway) InFlight() int { return len(g.sem) }

package client

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cim/personrt/messages/personv1"
)

// lookupKey names one grain and the owner its lookup asks ("" when the
// client has no ownership view): after the owner changed, callers do not
// join a lookup bound for the old one.
type lookupKey struct{ kind, id, owner string }

// lookupCall is one identity lookup in flight; pid is set (nil: no
// activation) before done is closed.
type lookupCall struct {
	done    chan struct{}
	pid     *actor.PID
	started time.Time
}

// lookup returns the activation of (kind, id) from the cluster's identity
// lookup, waiting for it until limit, ctx's end, or (with a) the loss of
// the owner at owner. The lookup itself runs on a goroutine of the client,
// shared with concurrent callers of the same grain and owner: it takes no
// ctx and may wait its whole activation timeout for an owner that does not
// answer. Its PID goes to the cluster's PID cache.
func (c *Client) lookup(ctx context.Context, limit time.Time, kind, id, owner, what string, a *attempt) (*actor.PID, error) {
	l, err := c.startLookup(kind, id, owner)
	if err != nil {
		return nil, err
	}
	var cut <-chan struct{}
	if a != nil {
		cut = a.wake
	}
	timer := time.NewTimer(time.Until(limit))
	defer timer.Stop()
	select {
	case <-l.done:
		if l.pid == nil {
			// No member hosts kind, its owner did not answer in time, or
			// the activation failed: back off and try again.
			return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.activation", "no activation of %s %q", kind, id)
		}
		return l.pid, nil
	case <-cut:
		return nil, lost(c.cause(a), kind, id, owner)
	case <-ctx.Done():
		return nil, deadline(ctx, id, what, nil)
	case <-timer.C:
		return nil, c.expired(ctx, limit, kind, id, what)
	}
}

// startLookup joins the lookup of (kind, id) at owner in flight, or starts
// one. A lookup older than the attempt timeout is not joined: its request
// may have been dropped (an activator that stopped with it queued), and
// it would keep every retry waiting for the lookup's own timeout.
func (c *Client) startLookup(kind, id, owner string) (*lookupCall, error) {
	key := lookupKey{kind: kind, id: id, owner: owner}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "client.closed", "%s %q: the client is shut down", kind, id)
	}
	if l := c.inflight[key]; l != nil && (c.cfg.AttemptTimeout <= 0 || time.Since(l.started) < c.cfg.AttemptTimeout) {
		return l, nil
	}
	l := &lookupCall{done: make(chan struct{}), started: time.Now()}
	c.inflight[key] = l
	c.lookups.Add(1)
	go func() {
		defer c.lookups.Done()
		pid := c.cl.Get(id, kind)
		if pid != nil {
			c.cl.PidCache.Set(id, kind, pid)
		}
		l.pid = pid
		c.mu.Lock()
		if c.inflight[key] == l {
			delete(c.inflight, key)
		}
		c.mu.Unlock()
		close(l.done)
	}()
	return l, nil
}

package client

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/cim/personrt/messages/personv1"
)

// How the client fails over from a lost member (package doc, Failover).
const (
	// probeAfter is how long after a member's connection was lost the
	// client lets one call try that member again: a member that only lost
	// a connection answers it and is reachable again; a crashed one stays
	// unreachable until the membership drops it.
	probeAfter = time.Second
	// probeTimeout bounds that one call; without an answer by then the
	// member counts as unreachable for another probeAfter.
	probeTimeout = 500 * time.Millisecond
)

// Causes of an attempt that ended without its reply.
var (
	errMemberLost   = errors.New("the connection to the member was lost")
	errGrainStopped = errors.New("the grain stopped without answering")
)

// downMark records a member whose connection was lost while the membership
// still lists it.
type downMark struct {
	since   time.Time // when the connection was lost, or the last probe failed
	probing bool      // a probe call is in flight
}

// attempt is one lookup (pid "") or request bound for the member at addr,
// registered in Client.calls so that losing the member, or the grain
// stopping, cuts it.
type attempt struct {
	addr, pid string
	probe     bool          // admitted although addr is down, to see whether it is back
	wake      chan struct{} // lookups: closed when cut

	// Guarded by Client.mu.
	future actor.Future // requests: completed (without a result) when cut
	cut    error        // why it was cut, nil if it was not
}

// begin admits an attempt bound for the member at addr (pid: the target's
// PID id, "" for a lookup) and registers it. When addr is known to be
// unreachable, begin fails at once with UNAVAILABLE, except for one probe
// per probeAfter. The caller must call end.
func (c *Client) begin(addr, pid, kind, id string) (*attempt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "client.closed", "%s %q: the client is shut down", kind, id)
	}
	a := &attempt{addr: addr, pid: pid}
	if m := c.down[addr]; m != nil && addr != c.self {
		if ago := time.Since(m.since); m.probing || ago < probeAfter {
			return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.member_lost",
				"%s %q lives on member %s, whose connection was lost %v ago", kind, id, addr, ago.Round(time.Millisecond))
		}
		m.probing, a.probe = true, true
	}
	if pid == "" {
		a.wake = make(chan struct{})
	}
	set := c.calls[addr]
	if set == nil {
		set = make(map[*attempt]struct{})
		c.calls[addr] = set
	}
	set[a] = struct{}{}
	return a, nil
}

// attach gives a request attempt its future; a cut that came first
// completes it at once.
func (c *Client) attach(a *attempt, f actor.Future) {
	c.mu.Lock()
	a.future = f
	cut := a.cut != nil
	c.mu.Unlock()
	if cut {
		c.cl.ActorSystem.Root.Stop(f.PID())
	}
}

// cutLocked marks a cut for cause and returns the future to complete (nil
// for a lookup or a request not sent yet). Callers hold c.mu.
func (a *attempt) cutLocked(cause error) actor.Future {
	if a.cut != nil {
		return nil
	}
	a.cut = cause
	if a.wake != nil {
		close(a.wake)
	}
	return a.future
}

// cause returns why a was cut, nil if it was not.
func (c *Client) cause(a *attempt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return a.cut
}

// end unregisters a, records what it learnt (a member that answered is
// reachable; a probe without an answer keeps its member down) and returns
// why a was cut, nil if it was not.
func (c *Client) end(a *attempt, reachable bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if set := c.calls[a.addr]; set != nil {
		delete(set, a)
		if len(set) == 0 {
			delete(c.calls, a.addr)
		}
	}
	m := c.down[a.addr]
	switch {
	case m == nil:
	case reachable:
		delete(c.down, a.addr)
	case a.probe:
		m.probing, m.since = false, time.Now()
	}
	return a.cut
}

// onEvent follows the actor system's view of the other members. It runs on
// the publisher's goroutine (remote's or the membership provider's, under
// MemberList's lock), so it only updates the client's maps and cancels
// contexts.
func (c *Client) onEvent(ev any) {
	switch e := ev.(type) {
	case *remote.EndpointTerminatedEvent:
		c.memberLost(e.Address)
	case *cluster.ActivationTerminated:
		if e.GetPid() != nil {
			c.grainStopped(e.GetPid().GetAddress(), e.GetPid().GetId())
		}
	case *remote.EndpointConnectedEvent:
		c.mu.Lock()
		delete(c.down, e.Address)
		c.mu.Unlock()
	case *cluster.ClusterTopology:
		// A member that left owns nothing any more; one that joined (maybe
		// at the address of a crashed one) is new.
		c.mu.Lock()
		for _, m := range e.Left {
			delete(c.down, m.Address())
		}
		joined := make(map[string]bool, len(e.Joined))
		for _, m := range e.Joined {
			delete(c.down, m.Address())
			joined[m.Address()] = true
		}
		c.mu.Unlock()
		if len(joined) > 0 {
			c.forgetActivations(e.Members, joined)
		}
	}
}

// forgetActivations empties the PID cache after a member joined: the
// grains it now owns are being stopped on their old members, and a call
// that reaches one of them between its stop order and its stop is dropped
// without an answer. After the eviction, the next call of every grain asks
// its owner (the old one while it still owns the grain, the new one after).
// protoactor-go keeps the cache across joins; members evict a grain when
// its old member announces the stop, client-only members never hear of it.
func (c *Client) forgetActivations(members []*cluster.Member, joined map[string]bool) {
	for _, m := range members {
		if !joined[m.Address()] {
			c.cl.PidCache.RemoveByMember(m)
		}
	}
}

// memberLost marks addr unreachable and cuts the attempts in flight to it.
// protoactor-go publishes EndpointTerminatedEvent when a connection to a
// member breaks (its process died, or the network failed) and when the
// membership drops a member (crashed, or left gracefully).
func (c *Client) memberLost(addr string) {
	if addr == c.self || addr == "" {
		return
	}
	var stop []actor.Future
	c.mu.Lock()
	if !c.closed {
		c.down[addr] = &downMark{since: time.Now()}
	}
	for a := range c.calls[addr] {
		if f := a.cutLocked(errMemberLost); f != nil {
			stop = append(stop, f)
		}
	}
	c.mu.Unlock()
	c.stop(stop)
}

// grainStopped cuts the requests in flight to the grain pid at addr: a
// message that reached it after it was told to stop is dropped without an
// answer.
func (c *Client) grainStopped(addr, pid string) {
	var stop []actor.Future
	c.mu.Lock()
	for a := range c.calls[addr] {
		if a.pid == pid {
			if f := a.cutLocked(errGrainStopped); f != nil {
				stop = append(stop, f)
			}
		}
	}
	c.mu.Unlock()
	c.stop(stop)
}

// stop completes the futures of cut requests (with no result), so that
// their callers return at once.
func (c *Client) stop(futures []actor.Future) {
	for _, f := range futures {
		c.cl.ActorSystem.Root.Stop(f.PID())
	}
}

// lost is the UNAVAILABLE error of an attempt cut because its member was
// lost or its grain stopped; the caller retries it (a command carries its
// id, so a retry never applies it twice).
func lost(cause error, kind, id, addr string) error {
	if errors.Is(cause, errGrainStopped) {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.activation",
			"%s %q on %s stopped with the call queued; its outcome is unknown", kind, id, addr)
	}
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "cluster.member_lost",
		"%s %q: member %s lost with the call in flight; its outcome is unknown", kind, id, addr)
}

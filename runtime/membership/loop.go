package membership

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
)

// errInvalidMember rejects a KV value that is not this protocol's member
// record; the entry is ignored.
var errInvalidMember = errors.New("membership: invalid member record")

// suspect is a member that was listed before a watch restart and has not
// been seen since; it stays listed until its deadline.
type suspect struct {
	member   *cluster.Member
	deadline time.Time
}

// loop is the state of one started provider. After start, its fields are
// owned by the goroutine running run; Shutdown reads them only after that
// goroutine has returned.
type loop struct {
	js      jetstream.JetStream
	opts    *options
	log     *slog.Logger
	cluster *cluster.Cluster

	member bool   // registered (StartMember) or watch-only (StartClient)
	self   string // this actor system's id
	prefix string // "<cluster>."
	key    string // prefix + self
	value  []byte // the member record, for members
	me     *cluster.Member

	kv jetstream.KeyValue
	w  jetstream.KeyWatcher
	// stopW ends the watch's context; nats.go unsubscribes the watch when
	// it ends.
	stopW context.CancelFunc

	// initial collects a watch's initial values; nil once they are read.
	initial  map[string]*cluster.Member
	members  map[string]*cluster.Member // confirmed by the current watch
	suspects map[string]suspect         // listed, awaiting confirmation
	grace    *time.Timer                // fires at the earliest suspect deadline

	degraded  bool // the last heartbeat or resync failed (logged once)
	published bool // a member list was published at least once
	// recovering ends two TTLs after the last resync. Until then an
	// expiry is treated as a suspect, not a leave: a NATS server that was
	// down longer than the TTL expires every key when it comes back.
	recovering time.Time
}

func newLoop(js jetstream.JetStream, opts *options, c *cluster.Cluster, member bool) (*loop, error) {
	name := cmp.Or(opts.clusterName, c.Config.Name)
	if !keyToken.MatchString(name) {
		return nil, fmt.Errorf("%w: cluster name %q: must match %s", ErrInvalidOption, name, keyToken)
	}
	id := c.ActorSystem.ID
	if !keyToken.MatchString(id) {
		return nil, fmt.Errorf("%w: member id %q: must match %s", ErrInvalidOption, id, keyToken)
	}
	l := &loop{
		js:       js,
		opts:     opts,
		cluster:  c,
		member:   member,
		self:     id,
		prefix:   name + ".",
		key:      name + "." + id,
		members:  make(map[string]*cluster.Member),
		suspects: make(map[string]suspect),
	}
	role := "client"
	if member {
		role = "member"
		host, port, err := c.ActorSystem.GetHostPort()
		if err != nil {
			return nil, fmt.Errorf("membership: member address: %w", err)
		}
		kinds := c.GetClusterKinds()
		slices.Sort(kinds)
		l.me = &cluster.Member{Id: id, Host: host, Port: int32(port), Kinds: kinds}
		value, err := protojson.Marshal(l.me)
		if err != nil {
			return nil, fmt.Errorf("membership: encode member: %w", err)
		}
		l.value = value
	}
	l.log = opts.logger.With(slog.String(logKeyBucket, opts.bucket), slog.String(logKeyKey, l.key), slog.String(logKeyRole, role))
	return l, nil
}

func (l *loop) describe() string { return l.opts.bucket + "/" + l.key }

// opTimeout bounds one KV call. A heartbeat may overrun the next tick
// (which is then skipped) but must end well before the key expires.
func (l *loop) opTimeout() time.Duration { return l.opts.ttl / 2 }

// connect creates or updates the bucket, registers a member, and starts a
// watch whose initial values it puts in l.initial. It stops any earlier
// watch first. ctx bounds the calls; the watch lives until life ends or
// stopWatch (nats.go ties a subscription to the context it was made with;
// without a deadline, the subscribe call itself is bounded by the
// JetStream default timeout).
func (l *loop) connect(ctx, life context.Context) error {
	l.stopWatch()
	kv, err := l.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:         l.opts.bucket,
		Description:    "protoactor-go cluster members (runtime/membership)",
		History:        1,
		TTL:            l.opts.ttl,
		LimitMarkerTTL: l.opts.markerTTL(),
		Storage:        l.opts.storage,
		Replicas:       l.opts.replicas,
	})
	if err != nil {
		return fmt.Errorf("bucket %s: %w", l.opts.bucket, err)
	}
	l.kv = kv
	if l.member {
		if _, err := kv.Put(ctx, l.key, l.value); err != nil {
			return fmt.Errorf("register: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	watchCtx, stop := context.WithCancel(life)
	w, err := kv.Watch(watchCtx, l.prefix+"*")
	if err != nil {
		stop()
		return fmt.Errorf("watch %s*: %w", l.prefix, err)
	}
	l.w, l.stopW = w, stop
	l.initial = make(map[string]*cluster.Member)
	return nil
}

// loadInitial reads the current watch's initial values and publishes them.
func (l *loop) loadInitial(ctx context.Context) error {
	for l.initial != nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("read members: %w", ctx.Err())
		case e, ok := <-l.w.Updates():
			if !ok {
				return errors.New("read members: watch closed")
			}
			l.onEntry(e, time.Now())
		}
	}
	return nil
}

// stopWatch stops the watch and drains what it had queued: nats.go's
// delivery callback blocks on a full channel and would otherwise hold its
// subscription open.
func (l *loop) stopWatch() {
	if l.w == nil {
		return
	}
	w, stop := l.w, l.stopW
	l.w, l.stopW, l.initial = nil, nil, nil
	if err := w.Stop(); err != nil {
		l.log.Debug("membership: stop watch", slog.Any(logKeyError, err))
	}
	stop()
	drain := time.NewTimer(l.opTimeout())
	defer drain.Stop()
	for {
		select {
		case _, ok := <-w.Updates():
			if !ok {
				return
			}
		case <-drain.C:
			l.log.Warn("membership: watch did not close after stop")
			return
		}
	}
}

// run keeps the heartbeat and the watch going until ctx ends, the NATS
// connection closes for good, or the actor system stops.
func (l *loop) run(ctx context.Context, status <-chan nats.Status) {
	defer l.stopWatch()
	defer func() {
		if l.grace != nil {
			l.grace.Stop()
		}
	}()
	beat := time.NewTicker(l.opts.heartbeat())
	defer beat.Stop()
	for {
		var updates <-chan jetstream.KeyValueEntry
		if l.w != nil {
			updates = l.w.Updates()
		}
		var graceC <-chan time.Time
		if l.grace != nil {
			graceC = l.grace.C
		}
		select {
		case <-ctx.Done():
			return
		case s, ok := <-status:
			if !ok {
				status = nil
				continue
			}
			if s == nats.CLOSED {
				l.log.Error("membership: NATS connection closed; membership is frozen until restart")
				return
			}
			l.resync(ctx, "reconnected")
		case <-beat.C:
			if l.cluster.ActorSystem.IsStopped() {
				l.log.Info("membership: actor system stopped; heartbeat and watch end")
				return
			}
			if l.js.Conn().Status() != nats.CONNECTED {
				// Reconnecting: a Put would only wait in the reconnect
				// buffer. The CONNECTED event triggers the resync.
				l.degrade("heartbeat", nats.ErrConnectionReconnecting)
				continue
			}
			if l.kv == nil || l.w == nil || !l.heartbeat(ctx) {
				l.resync(ctx, "heartbeat failed or watch down")
			}
		case e, ok := <-updates:
			if !ok {
				l.log.Warn("membership: watch closed; restarting at the next heartbeat")
				l.stopWatch()
				continue
			}
			l.onEntry(e, time.Now())
		case now := <-graceC:
			l.grace = nil
			l.expireSuspects(now)
		}
	}
}

// heartbeat re-puts the member's key; it reports false on failure. A
// client has nothing to put.
func (l *loop) heartbeat(ctx context.Context) bool {
	if !l.member {
		return true
	}
	opCtx, cancel := context.WithTimeout(ctx, l.opTimeout())
	defer cancel()
	if _, err := l.kv.Put(opCtx, l.key, l.value); err != nil {
		if ctx.Err() == nil {
			l.degrade("heartbeat", err)
		}
		return false
	}
	l.recover()
	return true
}

// resync re-establishes bucket, key and watch after a reconnect or a
// failure. The members listed so far stay listed meanwhile: a NATS outage
// is not a cluster change.
func (l *loop) resync(ctx context.Context, reason string) {
	if ctx.Err() != nil {
		return
	}
	opCtx, cancel := context.WithTimeout(ctx, l.opTimeout())
	defer cancel()
	if err := l.connect(opCtx, ctx); err != nil {
		if ctx.Err() == nil {
			l.degrade("resync ("+reason+")", err)
		}
		l.stopWatch()
		return
	}
	l.recovering = time.Now().Add(2 * l.opts.ttl)
	l.log.Info("membership: resynced", slog.String(logKeyReason, reason))
	l.recover()
}

func (l *loop) degrade(what string, err error) {
	if l.degraded {
		l.log.Debug("membership: "+what+" failed", slog.Any(logKeyError, err))
		return
	}
	l.degraded = true
	l.log.Warn("membership: "+what+" failed; keeping the last member list", slog.Any(logKeyError, err))
}

func (l *loop) recover() {
	if l.degraded {
		l.degraded = false
		l.log.Info("membership: NATS reachable again")
	}
}

// onEntry applies one watch entry (nil marks the end of the initial
// values).
func (l *loop) onEntry(e jetstream.KeyValueEntry, now time.Time) {
	if e == nil {
		if l.initial != nil {
			l.adoptInitial(now)
		}
		return
	}
	id, ok := strings.CutPrefix(e.Key(), l.prefix)
	if !ok {
		return
	}
	switch e.Operation() {
	case jetstream.KeyValuePut:
		m, err := decodeMember(id, e.Value())
		if err != nil {
			l.log.Warn("membership: ignoring entry", slog.String(logKeyMember, id), slog.Any(logKeyError, err))
			return
		}
		if l.initial != nil {
			l.initial[id] = m
			return
		}
		l.members[id] = m
		delete(l.suspects, id)
	default: // KeyValueDelete (a graceful leave) or KeyValuePurge (TTL expiry)
		if l.initial != nil {
			delete(l.initial, id)
			return
		}
		if m, ok := l.members[id]; ok && e.Operation() == jetstream.KeyValuePurge && now.Before(l.recovering) {
			l.log.Info("membership: member expired right after a resync; waiting for it to re-register",
				slog.String(logKeyMember, id))
			delete(l.members, id)
			l.suspects[id] = suspect{member: m, deadline: l.recovering}
			l.armGrace()
			return
		}
		if id == l.self && l.member {
			// The others have dropped this member and block its id for good:
			// only a restart (a new id) brings it back. Its own view keeps it.
			l.log.Error("membership: this member's key expired or was deleted while it ran; the other members have dropped it for good (restart the node)",
				slog.String(logKeyOp, e.Operation().String()))
		}
		delete(l.members, id)
		delete(l.suspects, id)
	}
	l.publish()
}

// adoptInitial replaces the confirmed members with a watch's initial
// values. Members listed before but absent now become suspects: after a
// NATS restart their keys may simply not be re-registered yet.
func (l *loop) adoptInitial(now time.Time) {
	snapshot := l.initial
	l.initial = nil
	if l.published {
		deadline := now.Add(2 * l.opts.ttl)
		for id, m := range l.members {
			if _, ok := snapshot[id]; !ok {
				l.suspects[id] = suspect{member: m, deadline: deadline}
			}
		}
	}
	for id := range snapshot {
		delete(l.suspects, id)
	}
	l.members = snapshot
	l.armGrace()
	l.publish()
}

func (l *loop) expireSuspects(now time.Time) {
	for id, s := range l.suspects {
		if !now.Before(s.deadline) {
			l.log.Info("membership: member not seen after resync; dropping it", slog.String(logKeyMember, id))
			delete(l.suspects, id)
		}
	}
	l.armGrace()
	l.publish()
}

// armGrace sets the grace timer to the earliest suspect deadline.
func (l *loop) armGrace() {
	if l.grace != nil {
		l.grace.Stop()
		l.grace = nil
	}
	var earliest time.Time
	for _, s := range l.suspects {
		if earliest.IsZero() || s.deadline.Before(earliest) {
			earliest = s.deadline
		}
	}
	if !earliest.IsZero() {
		l.grace = time.NewTimer(time.Until(earliest))
	}
}

// publish hands the full member list, sorted by id, to the cluster.
// MemberList computes joins and leaves and ignores an unchanged list.
//
// A running member always lists itself, whatever the bucket says: a list
// without it would make its MemberList block its own id for good, and
// its placement would stop hosting grains. (Its key may be missing after
// heartbeats overran the TTL; the next heartbeat puts it back.)
func (l *loop) publish() {
	list := make([]*cluster.Member, 0, len(l.members)+len(l.suspects)+1)
	for _, m := range l.members {
		list = append(list, m)
	}
	for _, s := range l.suspects {
		list = append(list, s.member)
	}
	if l.member && l.members[l.self] == nil && l.suspects[l.self].member == nil {
		list = append(list, l.me)
	}
	slices.SortFunc(list, func(a, b *cluster.Member) int { return cmp.Compare(a.Id, b.Id) })
	l.published = true
	l.log.Debug("membership: publishing members", slog.Int(logKeyMembers, len(list)))
	l.cluster.MemberList.UpdateClusterTopology(list)
}

// decodeMember parses a member record and checks it belongs to key id.
func decodeMember(id string, value []byte) (*cluster.Member, error) {
	var m cluster.Member
	if err := protojson.Unmarshal(value, &m); err != nil {
		return nil, fmt.Errorf("%w: not a protojson cluster.Member: %v", errInvalidMember, err)
	}
	if m.Id != id {
		return nil, fmt.Errorf("%w: id %q must equal the key's member id %q", errInvalidMember, m.Id, id)
	}
	if m.Host == "" || m.Port <= 0 {
		return nil, fmt.Errorf("%w: member %s: host and a positive port are required", errInvalidMember, id)
	}
	return &m, nil
}

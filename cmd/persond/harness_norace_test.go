//go:build !race

// The fault tests run several persond processes (built without -race) and,
// in the test process, a client-only protoactor-go member. They are built
// without -race because protoactor-go races with itself when a member
// leaves while a connection is being made: MemberList.UpdateClusterTopology
// blocks the member in remote.BlockList (Block takes its lock) while a new
// EndpointWriter reads BlockList.BlockedMembers() without it
// (protoactor-go remote/blocklist.go, endpoint_writer.go). A race build of
// persond would report the same race in its own log.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/gateway"
	"github.com/cim/personrt/runtime/membership"
	rtnode "github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/placement"
)

// proc is one persond process.
type proc struct {
	name string
	args []string
	http string // health and metrics address

	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // set before exited is closed
}

// newProc describes a persond process; args are the flags besides --http
// (a free address), --log-level and --shutdown-timeout.
func newProc(name string, args ...string) *proc {
	return &proc{name: name, args: args}
}

// launch starts p without waiting for it to serve. The test's cleanup kills
// it if it still runs.
func (p *proc) launch(t *testing.T, bin string) {
	t.Helper()
	if p.http == "" {
		p.http = freeAddr(t)
	}
	p.log = &syncBuffer{}
	p.exited = make(chan struct{})
	p.cmd = exec.Command(bin, append([]string{"--http", p.http, "--log-level", "warn", "--shutdown-timeout", "15s", "--no-policies"}, p.args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, exited := p.cmd, p.exited
	go func() {
		err := cmd.Wait()
		p.waitErr = err
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill() // the test failed midway; it is gone either way
			<-exited
		}
	})
}

// waitReady waits until p's /readyz answers 200.
func (p *proc) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		select {
		case <-p.exited:
			t.Fatalf("%s exited while starting (%v); log:\n%s", p.name, p.waitErr, p.log)
		default:
		}
		if code, _ := httpGet(t, "http://"+p.http+"/readyz"); code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v; log:\n%s", p.name, within, p.log)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited
}

// term sends SIGTERM and waits (within 30s) for a clean exit.
func (p *proc) term(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("%s after SIGTERM: %v; log:\n%s", p.name, p.waitErr, p.log)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30s of SIGTERM; log:\n%s", p.name, p.log)
	}
}

// startAll launches every proc, then waits until each serves.
func startAll(t *testing.T, bin string, procs ...*proc) {
	t.Helper()
	for _, p := range procs {
		p.launch(t, bin)
	}
	for _, p := range procs {
		p.waitReady(t, 60*time.Second)
	}
}

// httpGet returns the status and body of a GET, 0 when it failed.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, ""
	}
	return resp.StatusCode, string(b)
}

// metric sums the samples of a Prometheus series name (all label sets)
// from p's /metrics; 0 when p does not answer.
func (p *proc) metric(t *testing.T, name string) float64 {
	t.Helper()
	_, body := httpGet(t, "http://"+p.http+"/metrics")
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:\{[^}]*\})? ([0-9.e+-]+)$`)
	sum := 0.0
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += v
	}
	return sum
}

// typedMember joins the cluster on nc as a client-only member (NATS
// membership, placement) and returns the typed client; both are shut down
// by the test's cleanup.
func typedMember(t *testing.T, nc *nats.Conn) *client.Client {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := membership.New(js)
	if err != nil {
		t.Fatal(err)
	}
	lookup, err := placement.New()
	if err != nil {
		t.Fatal(err)
	}
	n, err := rtnode.New(rtnode.Config{Provider: provider, IdentityLookup: lookup})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(n.Cluster(), client.Config{Owner: n.Owner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 15*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return c
}

// gatewayCaller returns a gateway client on a new connection to url (a
// comma-separated list for a NATS cluster).
func gatewayCaller(t *testing.T, url string) *gateway.Client {
	t.Helper()
	c, err := gateway.NewClient(connect(t, url), gateway.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// execFunc executes one command (gateway or typed client).
type execFunc func(ctx context.Context, cmd *personv1.Command) (*personv1.CommandResult, error)

// loadConfig shapes a steady command load.
type loadConfig struct {
	persons []string
	// callers name the paths the load goes through; each runs workers
	// goroutines.
	callers map[string]execFunc
	workers int
	// shared: every worker renames every person (concurrent commands on
	// one person); otherwise each worker owns its own persons.
	shared bool
	// deadline bounds one call; budget bounds the retries of one command
	// (same command id) after UNAVAILABLE, DEADLINE_EXCEEDED or CONFLICT.
	deadline, budget time.Duration
	// alsoRetry, when set, names further errors to retry (they are still
	// counted as errors).
	alsoRetry func(error) bool
}

// ack is an acknowledged command.
type ack struct {
	caller  string
	person  string
	version uint64
	at      time.Time
	took    time.Duration // from its first call to its acknowledgement
}

// callError is one failed call.
type callError struct {
	caller, person, command string
	at                      time.Time
	took                    time.Duration
	err                     error
}

// load runs commands until stopped and records what happened.
type load struct {
	cfg  loadConfig
	stop chan struct{}
	wg   sync.WaitGroup

	mu        sync.Mutex     // guards the fields below
	acked     map[string]ack // by command id
	calls     int
	errs      []callError // every failed call (retried or not)
	final     []callError // commands that failed for good
	overshoot time.Duration
}

// startLoad starts the workers.
func startLoad(ctx context.Context, cfg loadConfig) *load {
	l := &load{cfg: cfg, stop: make(chan struct{}), acked: map[string]ack{}}
	w := 0
	total := len(cfg.callers) * cfg.workers
	for name, exec := range cfg.callers {
		for range cfg.workers {
			mine := cfg.persons
			if !cfg.shared {
				mine = nil
				for i := w; i < len(cfg.persons); i += total {
					mine = append(mine, cfg.persons[i])
				}
			}
			w++
			l.wg.Go(func() { l.work(ctx, name, exec, mine) })
		}
	}
	return l
}

func (l *load) work(ctx context.Context, name string, exec execFunc, persons []string) {
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		p := persons[i%len(persons)]
		cmd := &personv1.Command{
			PersonId: p, CommandId: uuid.Must(uuid.NewV7()).String(),
			Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: personName("N" + strconv.Itoa(i)), Reason: "load"}},
		}
		l.command(ctx, name, exec, cmd)
	}
}

// retryable: the outcome is unknown or the grain is moving; the same
// command id makes a retry safe.
func (l *load) retryable(err error) bool {
	if errors.Is(err, personv1.ErrUnavailable) || errors.Is(err, personv1.ErrDeadlineExceeded) || errors.Is(err, personv1.ErrConflict) {
		return true
	}
	return l.cfg.alsoRetry != nil && l.cfg.alsoRetry(err)
}

// command sends cmd until it is acknowledged, fails for good, or its
// retry budget is spent.
func (l *load) command(ctx context.Context, name string, exec execFunc, cmd *personv1.Command) {
	first := time.Now()
	for {
		cctx, cancel := context.WithTimeout(ctx, l.cfg.deadline)
		start := time.Now()
		res, err := exec(cctx, cmd)
		took := time.Since(start)
		cancel()
		now := time.Now()
		l.mu.Lock()
		l.calls++
		l.overshoot = max(l.overshoot, took-l.cfg.deadline)
		if err == nil {
			l.acked[cmd.GetCommandId()] = ack{caller: name, person: cmd.GetPersonId(), version: res.GetVersion(), at: now, took: now.Sub(first)}
			l.mu.Unlock()
			return
		}
		ce := callError{caller: name, person: cmd.GetPersonId(), command: cmd.GetCommandId(), at: now, took: took, err: err}
		l.errs = append(l.errs, ce)
		again := l.retryable(err) && time.Since(first) < l.cfg.budget && ctx.Err() == nil
		if !again {
			l.final = append(l.final, ce)
		}
		l.mu.Unlock()
		if !again {
			return
		}
		time.Sleep(20 * time.Millisecond) // back-off between the caller's own retries
	}
}

// finish stops the workers (they finish their command) and waits.
func (l *load) finish(t *testing.T) {
	t.Helper()
	close(l.stop)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(l.cfg.budget + 2*l.cfg.deadline + 10*time.Second):
		t.Fatal("load workers did not finish")
	}
}

// ackedSince counts the acknowledgements after at.
func (l *load) ackedSince(at time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.acked {
		if a.at.After(at) {
			n++
		}
	}
	return n
}

// waitAcks waits until n commands were acknowledged after at.
func (l *load) waitAcks(t *testing.T, at time.Time, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for l.ackedSince(at) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d commands acknowledged within %v", l.ackedSince(at), n, within)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}

// servedSince reports how many persons had a command acknowledged after
// at.
func (l *load) servedSince(at time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	served := map[string]bool{}
	for _, a := range l.acked {
		if a.at.After(at) {
			served[a.person] = true
		}
	}
	return len(served)
}

// waitServed waits until every person had a command acknowledged after at
// and returns when the last one was.
func (l *load) waitServed(t *testing.T, at time.Time, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for l.servedSince(at) < len(l.cfg.persons) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d persons served within %v", l.servedSince(at), len(l.cfg.persons), within)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	return time.Now()
}

// errorsBetween returns the failed calls in [from, to), by caller and
// error rule.
func (l *load) errorsBetween(from, to time.Time) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, e := range l.errs {
		if !e.at.Before(from) && e.at.Before(to) {
			out[e.caller+" "+errorKey(e.err)]++
		}
	}
	return out
}

// hasRule reports whether err is a *personv1.Error with code and rule.
func hasRule(err error, code personv1.ErrorCode, rule string) bool {
	var e *personv1.Error
	return errors.As(err, &e) && e.GetCode() == code && e.GetRule() == rule
}

// errorKey is an error's code and rule.
func errorKey(err error) string {
	var e *personv1.Error
	if errors.As(err, &e) {
		return strings.TrimPrefix(e.GetCode().String(), "ERROR_CODE_") + "/" + e.GetRule()
	}
	return err.Error()
}

// ackGap returns the longest interval in which no command was
// acknowledged at all, from from to the last acknowledgement before to.
func (l *load) ackGap(from, to time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var times []time.Time
	for _, a := range l.acked {
		if a.at.After(from) && a.at.Before(to) {
			times = append(times, a.at)
		}
	}
	slices.SortFunc(times, time.Time.Compare)
	gap, prev := time.Duration(0), from
	for _, at := range times {
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return gap
}

// slowest returns the longest time a command of caller took from its
// first call to its acknowledgement (retries included), among commands
// acknowledged between from and to, and how many of them took longer than
// one call's deadline.
func (l *load) slowest(caller string, from, to time.Time) (time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	worst, slow := time.Duration(0), 0
	for _, a := range l.acked {
		if a.caller != caller || a.at.Before(from) || a.at.After(to) {
			continue
		}
		worst = max(worst, a.took)
		if a.took > l.cfg.deadline {
			slow++
		}
	}
	return worst, slow
}

// report logs the load's outcome.
func (l *load) report(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	acked, calls, failed, overshoot := len(l.acked), l.calls, len(l.final), l.overshoot
	l.mu.Unlock()
	t.Logf("load: %d commands acknowledged in %d calls, %d failed for good; longest wait of a call past its deadline %v",
		acked, calls, failed, max(overshoot, 0).Round(time.Millisecond))
}

// createPersons creates every person through c.
func createPersons(t *testing.T, c *gateway.Client, ids []string) {
	t.Helper()
	for _, id := range ids {
		cmd := &personv1.Command{PersonId: id, CommandId: uuid.Must(uuid.NewV7()).String(),
			Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: personName("Lovelace")}}}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err := c.Execute(ctx, cmd)
		cancel()
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
}

// personIDs returns n fresh person ids with a prefix.
func personIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return ids
}

// verifyStream reads the whole event stream on nc (an ordered consumer:
// the stream leader answers) and checks the invariants the faults must not
// break: every person's versions contiguous from 1, no command applied
// twice (a causation id appears once), and every acknowledged command
// stored at the version it was acknowledged with. It reads the store's
// headers (persistence/jetstream: Cim-Person-Id, Cim-Person-Version,
// Cim-Causation-Id) rather than opening a store, which would update the
// stream's configuration and needs every replica.
func verifyStream(t *testing.T, nc *nats.Conn, l *load) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The connection may be moving to another server of a NATS cluster:
	// retry the set-up for a while.
	var (
		info *jetstream.StreamInfo
		cons jetstream.Consumer
	)
	for {
		st, err := js.Stream(ctx, eventStream)
		if err == nil {
			info, err = st.Info(ctx)
		}
		if err == nil {
			cons, err = st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("read the event stream: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
	type stored struct {
		person  string
		version uint64
	}
	mine := map[string]bool{}
	for _, p := range l.cfg.persons {
		mine[p] = true
	}
	byCommand := map[string]stored{}
	next := map[string]uint64{}
	events, gaps, dups := 0, 0, 0
	for seq := uint64(0); seq < info.State.LastSeq; {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			seq = md.Sequence.Stream
			p := m.Headers().Get("Cim-Person-Id")
			if !mine[p] {
				continue
			}
			events++
			v, err := strconv.ParseUint(m.Headers().Get("Cim-Person-Version"), 10, 64)
			if err != nil {
				t.Fatalf("%s at stream sequence %d: version: %v", p, seq, err)
			}
			if want := next[p] + 1; v != want {
				gaps++
				t.Errorf("%s: event at version %d, want %d", p, v, want)
			}
			next[p] = v
			cause := m.Headers().Get("Cim-Causation-Id")
			if prev, ok := byCommand[cause]; ok {
				dups++
				t.Errorf("command %s applied twice: %s@%d and %s@%d", cause, prev.person, prev.version, p, v)
			}
			byCommand[cause] = stored{person: p, version: v}
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("stream read stopped at sequence %d of %d", seq, info.State.LastSeq)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lost := 0
	for id, a := range l.acked {
		s, ok := byCommand[id]
		if !ok || s.person != a.person || s.version != a.version {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged command %s (%s@%d) stored as %+v (found %v)", id, a.person, a.version, s, ok)
			}
		}
	}
	t.Logf("stream: %d events of %d persons; %d acknowledged commands lost, %d applied twice, %d version gaps",
		events, len(l.cfg.persons), lost, dups, gaps)
	if t.Failed() {
		for _, e := range l.errs {
			s, ok := byCommand[e.command]
			t.Logf("failed call %s %s of %s at %s after %v: %v (stored: %v at version %d)",
				e.caller, e.command, e.person, e.at.Format("15:04:05.000"), e.took.Round(time.Millisecond), e.err, ok, s.version)
		}
	}
}

// eventStream is persistence/jetstream's default stream name.
const eventStream = "PERSON_EVENTS"

// connect opens a connection to url (a comma-separated list for a NATS
// cluster) that survives the loss of a server.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// streamInfo returns the event stream's info, retrying while the NATS
// cluster elects a leader.
func streamInfo(t *testing.T, nc *nats.Conn) *jetstream.StreamInfo {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		s, err := js.Stream(ctx, eventStream)
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = s.Info(ctx)
		}
		cancel()
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" {
			return info
		}
		if time.Now().After(deadline) {
			t.Fatalf("event stream info: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
}

// waitCurrent waits until every replica of the event stream is current
// (a restarted server has caught up).
func waitCurrent(t *testing.T, nc *nats.Conn) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		info := streamInfo(t, nc)
		current := len(info.Cluster.Replicas) == info.Config.Replicas-1
		for _, r := range info.Cluster.Replicas {
			current = current && r.Current && !r.Offline
		}
		if current {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("event stream replicas not current within 30s: %+v", info.Cluster.Replicas)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition with a deadline
	}
}

// streamLeader is the name of the server leading the event stream.
func streamLeader(t *testing.T, nc *nats.Conn) string {
	t.Helper()
	return streamInfo(t, nc).Cluster.Leader
}

// streamReplicas is the event stream's replica count.
func streamReplicas(t *testing.T, nc *nats.Conn) int {
	t.Helper()
	return streamInfo(t, nc).Config.Replicas
}

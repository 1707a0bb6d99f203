package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/gateway"
)

// persons wraps the real grain client to observe or perturb calls: it
// counts concurrent Execute calls, can hold them until released, and
// panics for one person id.
type persons struct {
	next     gateway.Persons
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	entered  chan struct{} // receives one value per Execute that started, if set
	hold     chan struct{} // Execute waits until it is closed (or ctx ends), if set
	panicFor string
}

func (p *persons) Execute(ctx context.Context, cmd *personv1.Command) (*personv1.CommandResult, error) {
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for {
		m := p.maxSeen.Load()
		if n <= m || p.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	if cmd.GetPersonId() == p.panicFor {
		panic("test: gateway handler exploded")
	}
	if p.entered != nil {
		p.entered <- struct{}{}
	}
	if p.hold != nil {
		select {
		case <-p.hold:
		case <-ctx.Done():
			return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "call.deadline", "held until cancelled")
		}
	}
	return p.next.Execute(ctx, cmd)
}

func (p *persons) Get(ctx context.Context, id string) (*personv1.PersonSnapshot, error) {
	return p.next.Get(ctx, id)
}

var prefixes atomic.Int64

// startGateway starts a gateway on a fresh prefix over the shared node and
// returns it with the prefix; it is shut down at the end of the test.
func startGateway(t *testing.T, p gateway.Persons, adjust func(*gateway.Config)) (*gateway.Gateway, string) {
	t.Helper()
	prefix := fmt.Sprintf("gw%d.person", prefixes.Add(1))
	cfg := gateway.Config{Conn: connect(t), Persons: p, History: fx.store, Prefix: prefix, MaxBodyBytes: 4096}
	if adjust != nil {
		adjust(&cfg)
	}
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
	})
	return g, prefix
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// request sends a raw request and returns the reply.
func request(t *testing.T, nc *nats.Conn, subject, contentType string, body []byte) *nats.Msg {
	t.Helper()
	m := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	if contentType != "" {
		m.Header.Set(gateway.HeaderContentType, contentType)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	reply, err := nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return reply
}

// commandReply decodes a CommandReply in the encoding its header names.
func commandReply(t *testing.T, m *nats.Msg) *personv1.CommandReply {
	t.Helper()
	var r personv1.CommandReply
	decode(t, m, &r)
	return &r
}

func decode(t *testing.T, m *nats.Msg, into proto.Message) {
	t.Helper()
	var err error
	switch ct := m.Header.Get(gateway.HeaderContentType); ct {
	case gateway.ContentTypeProtobuf:
		err = proto.Unmarshal(m.Data, into)
	case gateway.ContentTypeJSON:
		err = protojson.Unmarshal(m.Data, into)
	default:
		t.Fatalf("reply content type %q", ct)
	}
	if err != nil {
		t.Fatalf("decode %q: %v", m.Data, err)
	}
	if got, want := m.Header.Get(gateway.HeaderType), string(into.ProtoReflect().Descriptor().FullName()); got != want {
		t.Errorf("Cim-Type = %q, want %q", got, want)
	}
}

func mustJSON(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustProto(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A JSON create, a protobuf rename, queries and the history in both
// encodings, through raw NATS requests.
func TestCommandsAndQueries(t *testing.T) {
	_, prefix := startGateway(t, fx.persons, nil)
	nc := connect(t)
	id := newID()

	// JSON, snake_case as in docs/PROTOCOL.md, person_id from the subject.
	body := []byte(`{"command_id":"` + newID() + `","create_person":{"name":{"given_names":["Ada"],"family_names":["Lovelace"],"convention":"NAMING_CONVENTION_WESTERN"}}}`)
	m := request(t, nc, gateway.Subject(prefix, gateway.TokenCommands, id), "", body)
	if got := m.Header.Get(gateway.HeaderContentType); got != gateway.ContentTypeJSON {
		t.Errorf("reply content type = %q, want JSON", got)
	}
	if !strings.Contains(string(m.Data), `"person_id":"`+id+`"`) {
		t.Errorf("JSON reply does not use proto field names: %s", m.Data)
	}
	r := commandReply(t, m)
	if got := r.GetResult(); got.GetVersion() != 1 || got.GetPersonId() != id || got.GetEvents()[0].GetType() != "PersonCreated" {
		t.Fatalf("create reply = %v", r)
	}

	// Protobuf rename.
	m = request(t, nc, gateway.Subject(prefix, gateway.TokenCommands, id), gateway.ContentTypeProtobuf, mustProto(t, renameCmd(id, "King")))
	r = commandReply(t, m)
	if got := r.GetResult().GetVersion(); got != 2 {
		t.Fatalf("rename reply = %v, want version 2", r)
	}

	for _, tc := range []struct {
		name, contentType string
		body              []byte
	}{
		{"json empty body", "", nil},
		{"json GetPerson", gateway.ContentTypeJSON, []byte(`{"person_id":"` + id + `"}`)},
		{"protobuf GetPerson", gateway.ContentTypeProtobuf, mustProto(t, &personv1.GetPerson{PersonId: id})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p personv1.PersonReply
			decode(t, request(t, nc, gateway.Subject(prefix, gateway.TokenQueries, id), tc.contentType, tc.body), &p)
			if got := p.GetPerson(); got.GetVersion() != 2 || got.GetName().GetFamilyNames()[0] != "King" {
				t.Errorf("person = %v", &p)
			}
		})
	}

	var p personv1.PersonReply
	decode(t, request(t, nc, gateway.Subject(prefix, gateway.TokenQueries, newID()), "", nil), &p)
	if !errors.Is(p.GetError(), personv1.ErrNotFound) {
		t.Errorf("query of an unknown person = %v, want NOT_FOUND", &p)
	}

	for _, asJSON := range []bool{false, true} {
		c, err := gateway.NewClient(nc, gateway.ClientConfig{Prefix: prefix, JSON: asJSON})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		// Pages of one event exercise Cim-Next-Version.
		err = c.LoadPages(t.Context(), id, 1, 1, func(e *personv1.EventEnvelope) error {
			got = append(got, fmt.Sprintf("%d:%s", e.GetVersion(), e.GetType()))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"1:PersonCreated", "2:NameUpdated"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("history (json=%v) = %v, want %v", asJSON, got, want)
		}
	}
}

// The Go client round-trips commands and queries and keeps error codes.
func TestClient(t *testing.T) {
	_, prefix := startGateway(t, fx.persons, nil)
	c, err := gateway.NewClient(connect(t), gateway.ClientConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	id := newID()
	cmd := createCmd(id)
	res, err := c.Execute(t.Context(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.GetCommandId() == "" || res.GetVersion() != 1 {
		t.Errorf("command id %q, result %v", cmd.GetCommandId(), res)
	}
	// A retry with the same command id is answered from the first result.
	again, err := c.Execute(t.Context(), cmd)
	if err != nil || !again.GetDuplicate() || again.GetVersion() != 1 {
		t.Errorf("retry = %v, %v; want the duplicate of version 1", again, err)
	}
	if _, err := c.Execute(t.Context(), createCmd(id)); !errors.Is(err, personv1.ErrAlreadyExists) {
		t.Errorf("second create: err = %v, want ALREADY_EXISTS", err)
	}
	if p, err := c.Get(t.Context(), id); err != nil || p.GetVersion() != 1 {
		t.Errorf("get = %v, %v", p, err)
	}
	if _, err := c.Get(t.Context(), newID()); !errors.Is(err, personv1.ErrNotFound) {
		t.Errorf("get unknown: err = %v, want NOT_FOUND", err)
	}
	// Nobody serves another prefix.
	other, err := gateway.NewClient(connect(t), gateway.ClientConfig{Prefix: "nobody.person"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(t.Context(), id); !errors.Is(err, personv1.ErrUnavailable) {
		t.Errorf("no responders: err = %v, want UNAVAILABLE", err)
	}
	if err := other.Load(t.Context(), id, 1, func(*personv1.EventEnvelope) error { return nil }); !errors.Is(err, personv1.ErrUnavailable) {
		t.Errorf("history without responders: err = %v, want UNAVAILABLE", err)
	}
}

// unknownFieldCommand is a protobuf Command with only a field this node does
// not know (a newer client's command).
func unknownFieldCommand(id string) []byte {
	b := protowire.AppendTag(nil, 2, protowire.BytesType) // person_id
	b = protowire.AppendString(b, id)
	b = protowire.AppendTag(b, 99, protowire.BytesType)
	return protowire.AppendBytes(b, []byte{0x0a, 0x01, 'x'})
}

// Garbage gets a coded error reply, and the gateway keeps serving valid
// commands after each one.
func TestGarbage(t *testing.T) {
	p := &persons{next: fx.persons, panicFor: "explode"}
	_, prefix := startGateway(t, p, nil)
	nc := connect(t)
	id := newID()
	cmdSubj := gateway.Subject(prefix, gateway.TokenCommands, id)
	r := commandReply(t, request(t, nc, cmdSubj, "", mustJSON(t, createCmd(id))))
	if r.GetError() != nil {
		t.Fatal(r.GetError())
	}
	tests := []struct {
		name, subject, contentType string
		body                       []byte
		wantCode                   personv1.ErrorCode
		wantRule                   string
	}{
		{"bad json", cmdSubj, "", []byte(`{"create_person":`), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_malformed"},
		{"json of the wrong shape", cmdSubj, "", []byte(`["update_name"]`), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_malformed"},
		{"typo in a known command", cmdSubj, "", []byte(`{"update_name":{"nmae":{}}}`), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_malformed"},
		{"empty body", cmdSubj, "", nil, personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_empty"},
		{"no command", cmdSubj, "", []byte(`{"command_id":"c1"}`), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "command.body_required"},
		{"unknown json command", cmdSubj, "", []byte(`{"fly_to_moon":{"speed":1}}`), personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "gateway.command_unknown"},
		{"unknown protobuf command", cmdSubj, gateway.ContentTypeProtobuf, unknownFieldCommand(id), personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "gateway.command_unknown"},
		{"protobuf with bad bytes", cmdSubj, gateway.ContentTypeProtobuf, []byte{0xff, 0xff, 0xff, 0xff}, personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_malformed"},
		{"oversize", cmdSubj, "", []byte(`{"update_name":{"reason":"` + strings.Repeat("x", 5000) + `"}}`), personv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, "gateway.body_size"},
		{"unknown content type", cmdSubj, "text/xml", []byte(`<x/>`), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.content_type"},
		{"person mismatch", cmdSubj, "", mustJSON(t, renameCmd(newID(), "King")), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.person_id_mismatch"},
		{"subject with two ids", cmdSubj + ".extra", "", mustJSON(t, renameCmd(id, "King")), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.subject"},
		{"invalid person id", gateway.Subject(prefix, gateway.TokenCommands, "no!pe"), "", mustJSON(t, renameCmd("", "King")), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.subject"},
		{"domain rejection passes through", gateway.Subject(prefix, gateway.TokenCommands, newID()), "", mustJSON(t, renameCmd("", "King")), personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "person.not_found"},
		{"handler panic", gateway.Subject(prefix, gateway.TokenCommands, "explode"), "", mustJSON(t, renameCmd("", "King")), personv1.ErrorCode_ERROR_CODE_INTERNAL, "gateway.panic"},
		{"unknown query", gateway.Subject(prefix, gateway.TokenQueries, id), "", []byte(`{"list_all":true}`), personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "gateway.query_unknown"},
		{"query mismatch", gateway.Subject(prefix, gateway.TokenQueries, id), "", []byte(`{"person_id":"someone-else"}`), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.person_id_mismatch"},
		{"bad query json", gateway.Subject(prefix, gateway.TokenQueries, id), "", []byte(`{`), personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_malformed"},
	}
	version := uint64(1)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := request(t, nc, tc.subject, tc.contentType, tc.body)
			var got *personv1.Error
			if strings.Contains(tc.subject, ".queries.") {
				var pr personv1.PersonReply
				decode(t, m, &pr)
				got = pr.GetError()
			} else {
				got = commandReply(t, m).GetError()
			}
			if got.GetCode() != tc.wantCode || got.GetRule() != tc.wantRule {
				t.Errorf("error = %v, want %v [%s]", got, tc.wantCode, tc.wantRule)
			}
			// Still serving.
			version++
			ok := commandReply(t, request(t, nc, cmdSubj, "", mustJSON(t, renameCmd(id, fmt.Sprint("King", version)))))
			if ok.GetResult().GetVersion() != version {
				t.Fatalf("valid command after garbage: %v, want version %d", ok, version)
			}
		})
	}
	// A bad history header is coded too.
	m := &nats.Msg{Subject: gateway.Subject(prefix, gateway.TokenHistory, id), Header: nats.Header{gateway.HeaderFromVersion: {"ten"}}}
	reply, err := nc.RequestMsgWithContext(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	var e personv1.Error
	decode(t, reply, &e)
	if e.GetRule() != "gateway.history_from" {
		t.Errorf("history error = %v", &e)
	}
}

// Many concurrent commands over several persons all apply, in-flight
// requests never exceed MaxInFlight, and per-person versions add up.
func TestConcurrency(t *testing.T) {
	const maxInFlight, persons_, perPerson = 4, 8, 12
	p := &persons{next: fx.persons}
	_, prefix := startGateway(t, p, func(c *gateway.Config) { c.MaxInFlight = maxInFlight })
	c, err := gateway.NewClient(connect(t), gateway.ClientConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, persons_)
	for i := range ids {
		ids[i] = newID()
		if _, err := c.Execute(t.Context(), createCmd(ids[i])); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, persons_*perPerson)
	for _, id := range ids {
		for k := range perPerson {
			wg.Go(func() {
				if _, err := c.Execute(t.Context(), renameCmd(id, fmt.Sprint("N", k))); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := p.maxSeen.Load(); got > maxInFlight || got < 2 {
		t.Errorf("max concurrent executions = %d, want 2..%d", got, maxInFlight)
	}
	for _, id := range ids {
		if s, err := c.Get(t.Context(), id); err != nil || s.GetVersion() != perPerson+1 {
			t.Errorf("%s: version %d, err %v; want %d", id, s.GetVersion(), err, perPerson+1)
		}
	}
}

// Shutdown answers the requests in flight before it returns; afterwards
// nobody answers.
func TestShutdownDrains(t *testing.T) {
	const n = 6
	p := &persons{next: fx.persons, entered: make(chan struct{}, n), hold: make(chan struct{})}
	g, prefix := startGateway(t, p, nil)
	c, err := gateway.NewClient(connect(t), gateway.ClientConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := c.Execute(t.Context(), createCmd(newID()))
			results <- err
		})
	}
	for range n {
		<-p.entered // every request is in flight
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		shut <- g.Shutdown(ctx)
	}()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned with requests in flight: %v", err)
	case <-time.After(50 * time.Millisecond): // not synchronisation: a bound on a wrong early return
	}
	close(p.hold)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("in-flight command: %v", err)
		}
	}
	if _, err := c.Execute(t.Context(), createCmd(newID())); !errors.Is(err, personv1.ErrUnavailable) {
		t.Errorf("after shutdown: err = %v, want UNAVAILABLE", err)
	}
}

// A Shutdown whose ctx ends cancels the handlers, which answer, and
// returns ctx's error.
func TestShutdownGivesUp(t *testing.T) {
	p := &persons{next: fx.persons, entered: make(chan struct{}, 1), hold: make(chan struct{})}
	g, prefix := startGateway(t, p, nil)
	c, err := gateway.NewClient(connect(t), gateway.ClientConfig{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() {
		_, err := c.Execute(t.Context(), createCmd(newID()))
		res <- err
	}()
	<-p.entered
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want deadline exceeded", err)
	}
	if err := <-res; !errors.Is(err, personv1.ErrDeadlineExceeded) {
		t.Errorf("held command: err = %v, want the handler's DEADLINE_EXCEEDED", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	nc := connect(t)
	tests := []struct {
		name string
		cfg  gateway.Config
	}{
		{"no conn", gateway.Config{Persons: fx.persons}},
		{"no persons", gateway.Config{Conn: nc}},
		{"wildcard prefix", gateway.Config{Conn: nc, Persons: fx.persons, Prefix: "person.*"}},
		{"empty token", gateway.Config{Conn: nc, Persons: fx.persons, Prefix: "a..b"}},
		{"queue with dot", gateway.Config{Conn: nc, Persons: fx.persons, Queue: "a.b"}},
		{"negative in flight", gateway.Config{Conn: nc, Persons: fx.persons, MaxInFlight: -1}},
		{"history limit", gateway.Config{Conn: nc, Persons: fx.persons, HistoryLimit: gateway.MaxHistoryLimit + 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := gateway.New(tc.cfg); !errors.Is(err, gateway.ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

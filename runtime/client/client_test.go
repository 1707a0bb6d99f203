package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence/memstore"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/personkind"
)

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := client.New(nil, client.Config{}); !errors.Is(err, client.ErrInvalidConfig) {
		t.Errorf("nil cluster: err = %v, want ErrInvalidConfig", err)
	}
}

// startNode starts a standalone node hosting persons over a memstore.
func startNode(t *testing.T) *node.Node {
	t.Helper()
	s := memstore.New()
	h, err := personkind.NewHost(grain.Config{Events: s, Snapshots: s})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Kinds: []node.Kind{h}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 15*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return n
}

func TestClient(t *testing.T) {
	n := startNode(t)
	c, err := client.New(n.Cluster(), client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	t.Run("config", func(t *testing.T) {
		tests := []struct {
			name string
			cfg  client.Config
		}{
			{name: "timeout", cfg: client.Config{Timeout: -time.Second}},
			{name: "attempts", cfg: client.Config{MaxAttempts: -1}},
			{name: "backoff", cfg: client.Config{BaseBackoff: time.Second, MaxBackoff: time.Millisecond}},
		}
		for _, tc := range tests {
			if _, err := client.New(n.Cluster(), tc.cfg); !errors.Is(err, client.ErrInvalidConfig) {
				t.Errorf("%s: err = %v, want ErrInvalidConfig", tc.name, err)
			}
		}
	})

	t.Run("execute sets the command id", func(t *testing.T) {
		cmd := &personv1.Command{PersonId: "p-1", Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{
			Name: &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{"Byron"}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}}}}
		res, err := c.Execute(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if cmd.GetCommandId() == "" || res.GetEvents()[0].GetCausationId() != cmd.GetCommandId() {
			t.Errorf("command id %q, causation %q", cmd.GetCommandId(), res.GetEvents()[0].GetCausationId())
		}
	})

	tests := []struct {
		name    string
		call    func(ctx context.Context) error
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{
			name:    "missing person id",
			call:    func(ctx context.Context) error { _, err := c.Execute(ctx, &personv1.Command{}); return err },
			wantErr: personv1.ErrInvalidArgument,
		},
		{
			name:    "get without id",
			call:    func(ctx context.Context) error { _, err := c.Get(ctx, ""); return err },
			wantErr: personv1.ErrInvalidArgument,
		},
		{
			name:    "not found",
			call:    func(ctx context.Context) error { _, err := c.Get(ctx, "p-2"); return err },
			wantErr: personv1.ErrNotFound,
		},
		{
			name: "expired context",
			call: func(ctx context.Context) error { _, err := c.Get(ctx, "p-1"); return err },
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(ctx, time.Now().Add(-time.Second))
			},
			wantErr: personv1.ErrDeadlineExceeded,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			if tc.ctx != nil {
				cctx, cancel = tc.ctx()
			}
			defer cancel()
			if err := tc.call(cctx); !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}

	// A kind no member hosts is UNAVAILABLE: the client backs off between
	// its attempts (protoactor-go alone retries within nanoseconds).
	t.Run("unavailable after backoff", func(t *testing.T) {
		nc, err := client.New(n.Cluster(), client.Config{Kind: "nobody", MaxAttempts: 3, BaseBackoff: 40 * time.Millisecond, MaxBackoff: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = nc.Get(ctx, "p-1")
		took := time.Since(start)
		if !errors.Is(err, personv1.ErrUnavailable) {
			t.Fatalf("err = %v, want UNAVAILABLE", err)
		}
		// Pauses of [20,40) and [40,80) ms.
		if took < 60*time.Millisecond {
			t.Errorf("3 attempts took %v, want at least 60ms of back-off", took)
		}
	})
}

// A request whose grain stops with the request queued gets no answer from
// protoactor-go; the client cuts it when the grain's stop is announced
// (cluster.ActivationTerminated), and otherwise gives up the attempt after
// AttemptTimeout: either way long before the caller's deadline.
func TestStoppedGrainIsRetried(t *testing.T) {
	n := startNode(t)
	c := n.Cluster()
	received := make(chan struct{}, 4)
	sink, err := c.ActorSystem.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*personv1.GetPerson); ok {
			received <- struct{}{} // and never answer, like a stopping grain
		}
	}), "sink")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		cfg      client.Config
		announce bool
		wantRule string
	}{
		{name: "stop announced", cfg: client.Config{Kind: "sink", MaxAttempts: 1, AttemptTimeout: -1}, announce: true, wantRule: "cluster.activation"},
		{name: "attempt timeout", cfg: client.Config{Kind: "sink", MaxAttempts: 1, AttemptTimeout: 100 * time.Millisecond}, wantRule: "cluster.attempt_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl, err := client.New(c, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := cl.Shutdown(t.Context()); err != nil {
					t.Error(err)
				}
			}()
			c.PidCache.Set("x", "sink", sink)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := cl.Ask(ctx, "sink", "x", &personv1.GetPerson{PersonId: "x"})
				done <- err
			}()
			<-received
			if tc.announce {
				c.ActorSystem.EventStream.Publish(&cluster.ActivationTerminated{Pid: sink, ClusterIdentity: cluster.NewClusterIdentity("x", "sink")})
			}
			err = <-done
			took := time.Since(start)
			var e *personv1.Error
			if !errors.As(err, &e) || e.GetCode() != personv1.ErrorCode_ERROR_CODE_UNAVAILABLE || e.GetRule() != tc.wantRule {
				t.Fatalf("err = %v, want UNAVAILABLE %s", err, tc.wantRule)
			}
			if took > 2*time.Second {
				t.Errorf("took %v of a 10s deadline", took)
			}
			if _, ok := c.PidCache.Get("x", "sink"); ok {
				t.Error("the stopped activation is still cached")
			}
		})
	}
}

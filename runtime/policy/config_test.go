package policy

import (
	"errors"
	"testing"
	"time"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
)

func TestConfigRules(t *testing.T) {
	e := newEnv(t, "")
	pols := policies(t, apolicy.Config{})
	noop := func(*personv1.EventEnvelope, time.Time) []apolicy.Reaction { return nil }
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr error
	}{
		{"valid", func(*Config) {}, nil},
		{"no policies", func(c *Config) { c.Policies = nil }, ErrInvalidConfig},
		{"no cluster", func(c *Config) { c.Cluster = nil }, ErrInvalidConfig},
		{"no conn", func(c *Config) { c.Conn = nil }, ErrInvalidConfig},
		{"no dlq", func(c *Config) { c.DLQ = nil }, ErrInvalidConfig},
		{"no timers", func(c *Config) { c.Timers = nil }, ErrInvalidConfig},
		{"duplicate policy", func(c *Config) { c.Policies = append(c.Policies, c.Policies[0]) }, ErrInvalidConfig},
		{"policy named like the timer worker", func(c *Config) {
			c.Policies = append(c.Policies, apolicy.Policy{Name: TimerWorker, Source: apolicy.KindPerson, Evaluate: noop})
		}, ErrInvalidConfig},
		{"policy name with a dot", func(c *Config) {
			c.Policies = append(c.Policies, apolicy.Policy{Name: "a.b", Source: apolicy.KindPerson, Evaluate: noop})
		}, ErrInvalidConfig},
		{"unknown only", func(c *Config) { c.Only = []string{"nope"} }, ErrInvalidConfig},
		{"source without store", func(c *Config) { c.Sources = map[string]Source{apolicy.KindPerson: {Events: e.persons}} }, ErrInvalidConfig},
		{"source without store, policy not run", func(c *Config) {
			c.Sources = map[string]Source{apolicy.KindPerson: {Events: e.persons}}
			c.Only = []string{apolicy.Onboarding, TimerWorker}
		}, nil},
		{"backoff max below base", func(c *Config) { c.BaseBackoff, c.MaxBackoff = time.Second, time.Millisecond }, ErrInvalidConfig},
		{"too many lanes", func(c *Config) { c.Lanes = 5000 }, ErrInvalidConfig},
		{"negative restarts", func(c *Config) { c.MaxRestarts = -1 }, ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.config(append([]apolicy.Policy(nil), pols...))
			tc.mutate(&cfg)
			_, err := New(cfg)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	r, err := New(Config{Policies: pols, Cluster: e.node.Cluster(), Conn: e.nc, DLQ: e.dlq, Timers: e.timers,
		Sources: map[string]Source{apolicy.KindPerson: {Events: e.persons}, apolicy.KindOnboarding: {Events: e.onboarding}}})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.cfg; c.AckWait != DefaultAckWait || c.MaxDeliver != DefaultMaxDeliver || c.Lanes != DefaultLanes ||
		c.Sources[apolicy.KindOnboarding].Stream != "ONBOARDING_EVENTS" || c.NotificationStream != "NOTIFICATIONS" {
		t.Errorf("defaults not applied: %+v", c)
	}
	if err := r.Close(); err != nil {
		t.Errorf("close of a runner never started: %v", err)
	}
	if err := r.Start(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("start after close: err = %v, want ErrClosed", err)
	}
}

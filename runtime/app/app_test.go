package app_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/app"
	"github.com/cim/personrt/runtime/gateway"
	"github.com/cim/personrt/runtime/natsserver"
)

// startApp starts a node on dir with free ports. The caller shuts it down.
func startApp(t *testing.T, dir string) *app.App {
	t.Helper()
	a, err := app.New(app.Config{DataDir: dir, NATSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Sync: natsserver.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return a
}

func shutdown(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// gatewayClient connects to the app's NATS and returns a gateway client.
func gatewayClient(t *testing.T, a *app.App) *gateway.Client {
	t.Helper()
	nc, err := nats.Connect(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c, err := gateway.NewClient(nc, gateway.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func name(given, family string) *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{given}, FamilyNames: []string{family}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

func create(id string) *personv1.Command {
	return &personv1.Command{PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: name("Ada", "Lovelace")}}}
}

func rename(id, family string) *personv1.Command {
	return &personv1.Command{PersonId: id, Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: name("Ada", family), Reason: "test"}}}
}

// A node serves health, readiness, metrics and the gateway; after a
// graceful shutdown and a restart on the same directory its persons are
// still there.
func TestServeRestart(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, dir)
	base := "http://" + a.HTTPAddr()
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, base+path); code != http.StatusOK {
			t.Errorf("%s = %d %q", path, code, body)
		}
	}
	c := gatewayClient(t, a)
	if _, err := c.Execute(t.Context(), create("ada")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(t.Context(), rename("ada", "King")); err != nil {
		t.Fatal(err)
	}
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`personrt_gateway_requests_total{kind="command",code="OK"} 2`,
		`personrt_grain_commands_total{kind="person",code="OK"} 2`,
		`personrt_grain_activations_total{kind="person"} 1`,
		"personrt_ready 1",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
	if err := a.Start(t.Context()); !errors.Is(err, app.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	shutdown(t, a)
	if a.Ready() {
		t.Error("ready after shutdown")
	}
	if err := a.Start(t.Context()); !errors.Is(err, app.ErrClosed) {
		t.Errorf("Start after Shutdown = %v, want ErrClosed", err)
	}

	b := startApp(t, dir)
	defer shutdown(t, b)
	p, err := gatewayClient(t, b).Get(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	if p.GetVersion() != 2 || p.GetName().GetFamilyNames()[0] != "King" {
		t.Errorf("after restart: %v", p)
	}
}

// A graceful shutdown under load answers every request it took: each
// sender's person ends at exactly the version its acknowledged commands
// make (no applied command lost its reply), requests after the drain fail
// UNAVAILABLE (never a timeout), and every acknowledged change survives a
// restart.
func TestShutdownUnderLoad(t *testing.T) {
	const senders = 16
	dir := t.TempDir()
	a := startApp(t, dir)
	c := gatewayClient(t, a)
	ids := make([]string, senders)
	for i := range ids {
		ids[i] = fmt.Sprintf("load-%d", i)
		if _, err := c.Execute(t.Context(), create(ids[i])); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = make([]int, senders)
		total int
		fails []error
	)
	enough := make(chan struct{})
	var once sync.Once
	for i, id := range ids {
		wg.Go(func() {
			for k := 0; ; k++ {
				_, err := c.Execute(t.Context(), rename(id, fmt.Sprint("N", k)))
				mu.Lock()
				if err == nil {
					acked[i]++
					total++
					if total >= 10*senders {
						once.Do(func() { close(enough) })
					}
				} else if !errors.Is(err, personv1.ErrUnavailable) {
					fails = append(fails, err)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	<-enough
	shutdown(t, a) // senders are mid-flight
	wg.Wait()
	for _, err := range fails {
		t.Errorf("sender failed with other than UNAVAILABLE: %v", err)
	}
	t.Logf("%d renames acknowledged before and during the drain", total)

	b := startApp(t, dir)
	defer shutdown(t, b)
	cb := gatewayClient(t, b)
	for i, id := range ids {
		p, err := cb.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(1 + acked[i]); p.GetVersion() != want {
			t.Errorf("%s: version %d, want %d (1 create + %d acknowledged renames)", id, p.GetVersion(), want, acked[i])
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  app.Config
	}{
		{"sync", app.Config{Sync: "sometimes"}},
		{"provider", app.Config{Provider: "zookeeper"}},
		{"lookup", app.Config{Lookup: "random"}},
		{"nats addr", app.Config{NATSAddr: "localhost"}},
		{"remote addr", app.Config{RemoteAddr: "127.0.0.1:99999"}},
		{"monitor port", app.Config{NATSMonitorPort: -2}},
		{"shutdown timeout", app.Config{ShutdownTimeout: -time.Second}},
		{"replicas", app.Config{Replicas: 7}},
		{"membership ttl", app.Config{MembershipTTL: time.Millisecond}},
		{"routes without a route listener", app.Config{NATSRoutes: []string{"127.0.0.1:6222"}}},
		{"route listener", app.Config{NATSClusterListen: "127.0.0.1"}},
		{"route", app.Config{NATSClusterListen: "127.0.0.1:6222", NATSRoutes: []string{"nats://127.0.0.1:port"}}},
		{"cluster settings with an external NATS", app.Config{NATSURL: "nats://127.0.0.1:4222", NATSClusterListen: "127.0.0.1:6222"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := app.New(tc.cfg); !errors.Is(err, app.ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

// A busy port fails Start at once with an error naming the listener, and
// what started before is stopped.
func TestStartFailsOnBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	tests := []struct {
		name    string
		cfg     app.Config
		wantErr string
	}{
		{"http", app.Config{NATSAddr: "127.0.0.1:0", HTTPAddr: busy}, "http listener"},
		{"nats", app.Config{NATSAddr: busy, HTTPAddr: "127.0.0.1:0"}, "embedded NATS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir = t.TempDir()
			a, err := app.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := a.Start(t.Context()); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Start = %v, want an error about the %s", err, tc.wantErr)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Start took %v to fail", took)
			}
			if err := a.Start(t.Context()); !errors.Is(err, app.ErrClosed) {
				t.Errorf("Start after a failed Start = %v, want ErrClosed", err)
			}
		})
	}
}

// Flags binds the cluster settings: the defaults make a one-member
// cluster, and --nats-cluster takes a comma-separated list.
func TestFlagsCluster(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(app.Config) bool
	}{
		{"defaults", nil, func(c app.Config) bool {
			return c.Provider == app.ProviderNATS && c.Lookup == app.LookupPlacement && c.Replicas == 0 && c.NATSClusterListen == ""
		}},
		{"routes", []string{"--nats-cluster-listen", "127.0.0.1:6222", "--nats-cluster", "127.0.0.1:6222, 127.0.0.1:6223", "--nats-cluster", "127.0.0.1:6224"}, func(c app.Config) bool {
			return c.NATSClusterListen == "127.0.0.1:6222" && strings.Join(c.NATSRoutes, " ") == "127.0.0.1:6222 127.0.0.1:6223 127.0.0.1:6224"
		}},
		{"standalone", []string{"--provider", "standalone", "--replicas", "3", "--membership-ttl", "1s"}, func(c app.Config) bool {
			return c.Provider == app.ProviderStandalone && c.Replicas == 3 && c.MembershipTTL == time.Second
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got app.Config
			fs := flag.NewFlagSet("persond", flag.ContinueOnError)
			got.Flags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if !tc.want(got) {
				t.Errorf("config %+v", got)
			}
			if _, err := app.New(got); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

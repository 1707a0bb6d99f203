package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/gateway"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"help explains every flag", []string{"--help"}, 0, "-shutdown-timeout duration"},
		{"unknown flag", []string{"--frobnicate"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"serve"}, 2, `unexpected argument "serve"`},
		{"bad log level", []string{"--log-level", "loud"}, 2, "--log-level"},
		{"bad config", []string{"--sync", "sometimes", "--http", "off"}, 2, "config.sync"},
		{"routes without a route listener", []string{"--nats-cluster", "127.0.0.1:6222", "--http", "off"}, 2, "config.nats_cluster"},
		{"help names the cluster flags", []string{"--help"}, 0, "-nats-cluster-listen string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if got := run(tc.args, &out); got != tc.wantCode {
				t.Errorf("exit code = %d, want %d; output:\n%s", got, tc.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output lacks %q:\n%s", tc.wantOut, out.String())
			}
		})
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// node is a persond process.
type node struct {
	cmd        *exec.Cmd
	log        *syncBuffer
	nats, http string
}

// built is the persond binary the tests of this run share, built once.
var built struct {
	once sync.Once
	dir  string // removed by TestMain
	bin  string
	err  error
}

// buildPersond builds persond once per test binary (with -race when the
// test runs with it, to reuse the compiled packages) and returns its path.
func buildPersond(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build persond")
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "persond-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "persond")
		args := []string{"build", "-o", built.bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		// Not t.Context(): the binary outlives this test.
		out, err := exec.Command(goBin, append(args, ".")...).CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// TestMain removes the shared persond binary after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		if err := os.RemoveAll(built.dir); err != nil {
			fmt.Fprintln(os.Stderr, "remove persond build:", err)
		}
	}
	os.Exit(code)
}

// startNode runs persond on dir and waits until /readyz answers 200.
func startNode(t *testing.T, bin, dir string) *node {
	t.Helper()
	n := &node{log: &syncBuffer{}, nats: freeAddr(t), http: freeAddr(t)}
	n.cmd = exec.Command(bin, "--data-dir", dir, "--nats-addr", n.nats, "--http", n.http, "--log-level", "warn")
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill() // the test failed midway; it is gone either way
			_ = n.cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + n.http + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("persond not ready within 30s; log:\n%s", n.log)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition with a deadline
	}
}

func (n *node) client(t *testing.T) *gateway.Client {
	t.Helper()
	nc, err := nats.Connect("nats://" + n.nats)
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

func personName(family string) *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{"Ada"}, FamilyNames: []string{family}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

// persond killed with SIGKILL loses no acknowledged change: after a
// restart on the same data directory every acknowledged command is there.
// Then SIGTERM stops it cleanly with exit code 0.
func TestCrashKeepsAcknowledgedChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs persond")
	}
	bin := buildPersond(t)
	dir := t.TempDir()
	n := startNode(t, bin, dir)
	c := n.client(t)
	const persons = 5
	acked := map[string]uint64{}
	for i := range persons {
		id := fmt.Sprintf("crash-%d", i)
		if _, err := c.Execute(t.Context(), &personv1.Command{PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: personName("Lovelace")}}}); err != nil {
			t.Fatal(err)
		}
		for k := range i + 1 {
			res, err := c.Execute(t.Context(), &personv1.Command{PersonId: id, Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: personName(fmt.Sprint("King", k)), Reason: "test"}}})
			if err != nil {
				t.Fatal(err)
			}
			acked[id] = res.GetVersion()
		}
	}
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Wait(); err == nil {
		t.Fatal("persond exited cleanly on SIGKILL?")
	}

	n = startNode(t, bin, dir)
	c = n.client(t)
	for id, version := range acked {
		p, err := c.Get(t.Context(), id)
		if err != nil {
			t.Fatalf("%s after the crash: %v", id, err)
		}
		wantFamily := fmt.Sprint("King", version-2)
		if p.GetVersion() != version || p.GetName().GetFamilyNames()[0] != wantFamily {
			t.Errorf("%s after the crash: version %d name %v, want version %d %s", id, p.GetVersion(), p.GetName().GetFamilyNames(), version, wantFamily)
		}
	}

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("persond after SIGTERM: %v; log:\n%s", err, n.log)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("persond did not stop within 30s of SIGTERM; log:\n%s", n.log)
	}
	if strings.Contains(n.log.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", n.log)
	}
}

// syncBuffer is a bytes.Buffer safe for the process's output copier and the
// test reading it at the same time.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

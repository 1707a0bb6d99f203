package ctl_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/cmd/personctl/internal/ctl"
	"github.com/cim/personrt/runtime/app"
	"github.com/cim/personrt/runtime/natsserver"
)

// startNode runs a whole node in-process on a temp dir and free ports.
func startNode(t *testing.T) *app.App {
	t.Helper()
	a, err := app.New(app.Config{DataDir: t.TempDir(), NATSAddr: "127.0.0.1:0", HTTPAddr: app.Off, Sync: natsserver.SyncInterval, NoPolicies: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return a
}

// syncBuffer is safe for a running watch and the test reading it.
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

func run(ctx context.Context, url string, args ...string) (code int, stdout, stderr string) {
	var out, errOut syncBuffer
	code = ctl.Run(ctx, append(args, "--nats-url", url), &out, &errOut)
	return code, out.String(), errOut.String()
}

// personctl end to end against a running node: every command, its output
// and its exit code, in order on one person.
func TestEndToEnd(t *testing.T) {
	url := startNode(t).NATSURL()
	steps := []struct {
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{[]string{"create", "ada", "--name", "Ada Lovelace", "--birth-date", "1815-12-10", "--email", "ada@example.org"}, ctl.ExitOK, "ok  person ada  version 1  PersonCreated", ""},
		{[]string{"create", "ada", "--name", "Ada Lovelace"}, ctl.ExitRejected, "", "ALREADY_EXISTS [person.already_exists]"},
		{[]string{"rename", "ada", "--given", "Ada", "--family", "King", "--reason", "marriage", "--command-id", "retry-me"}, ctl.ExitOK, "version 2  NameUpdated", ""},
		{[]string{"rename", "ada", "--given", "Ada", "--family", "King", "--reason", "marriage", "--command-id", "retry-me"}, ctl.ExitOK, "duplicate: command retry-me was applied before", ""},
		{[]string{"set-birth-date", "ada", "1815-12-11"}, ctl.ExitRejected, "", "FAILED_PRECONDITION [birth_date.immutable]"},
		{[]string{"attribute", "add", "ada", "--type", "height", "--value", `{"length":{"meters":1.65}}`, "--attribute-id", "h1"}, ctl.ExitOK, "version 3  AttributeRecorded", ""},
		{[]string{"attribute", "add", "ada", "--type", "national-id", "--value", "AB123456", "--attribute-id", "nid", "--source", "document-verified"}, ctl.ExitOK, "version 4", ""},
		{[]string{"attribute", "update", "ada", "h1", "--value", `{"length":{"meters":1.66}}`}, ctl.ExitOK, "version 5  AttributeUpdated", ""},
		{[]string{"attribute", "invalidate", "ada", "nid", "--reason", "expired"}, ctl.ExitOK, "version 6  AttributeInvalidated", ""},
		{[]string{"attribute", "invalidate", "ada", "nope", "--reason", "x"}, ctl.ExitNotFound, "", "NOT_FOUND [attribute.not_found]"},
		{[]string{"contact", "add", "ada", "--phone", "020 7946 0000", "--region", "GB", "--contact-id", "ph"}, ctl.ExitOK, "version 7  ContactAdded", ""},
		{[]string{"contact", "verify", "ada", "ph"}, ctl.ExitOK, "version 8  ContactVerified", ""},
		{[]string{"contact", "remove", "ada", "ph", "--reason", "moved"}, ctl.ExitOK, "version 9  ContactRemoved", ""},
		{[]string{"get", "ada"}, ctl.ExitOK, "name       Ada King", ""},
		{[]string{"--json", "get", "ada"}, ctl.ExitOK, `"version":"9"`, ""},
		{[]string{"history", "ada", "--from", "8"}, ctl.ExitOK, "ContactRemoved", ""},
		{[]string{"deactivate", "ada"}, ctl.ExitRejected, "", "INVALID_ARGUMENT [deactivate.reason_required]"},
		{[]string{"deactivate", "ada", "--reason", "on leave"}, ctl.ExitOK, "PersonDeactivated", ""},
		{[]string{"reactivate", "ada", "--reason", "back"}, ctl.ExitOK, "PersonReactivated", ""},
		{[]string{"create", "bob", "--given", "Bob", "--family", "Byron"}, ctl.ExitOK, "version 1", ""},
		{[]string{"merge", "bob", "ada", "--reason", "duplicate-identity"}, ctl.ExitOK, "PersonMerged", ""},
		{[]string{"rename", "bob", "--name", "Bob B"}, ctl.ExitRejected, "", "FAILED_PRECONDITION [lifecycle.terminal]"},
		{[]string{"record-death", "ada", "1852-11-27"}, ctl.ExitOK, "DeathRecorded", ""},
		{[]string{"archive", "ada", "--reason", "x"}, ctl.ExitRejected, "", "lifecycle.terminal"},
		{[]string{"create", "carol", "--name", "Carol"}, ctl.ExitOK, "version 1", ""},
		{[]string{"archive", "carol", "--reason", "test data"}, ctl.ExitOK, "PersonArchived", ""},
		{[]string{"get", "nobody"}, ctl.ExitNotFound, "", "NOT_FOUND"},
		{[]string{"--json", "get", "nobody"}, ctl.ExitNotFound, `"code":"ERROR_CODE_NOT_FOUND"`, ""},
		{[]string{"get"}, ctl.ExitUsage, "", "want a person id"},
		{[]string{"frobnicate", "ada"}, ctl.ExitUsage, "", "unknown command"},
		{[]string{"rename", "ada", "--bogus"}, ctl.ExitUsage, "", "flag provided but not defined"},
		{[]string{"set-birth-date", "ada", "10/12/1815"}, ctl.ExitUsage, "", "want YYYY-MM-DD"},
		{[]string{"merge", "bob", "ada", "--reason", "whim"}, ctl.ExitUsage, "", "is not one of"},
		{[]string{"get", "ada", "--prefix", "nobody"}, ctl.ExitUnavailable, "", "gateway.no_responders"},
	}
	for i, s := range steps {
		t.Run(fmt.Sprintf("%02d %s", i, strings.Join(s.args, " ")), func(t *testing.T) {
			code, stdout, stderr := run(t.Context(), url, s.args...)
			if code != s.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, s.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, s.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", s.wantStdout, stdout)
			}
			if !strings.Contains(stderr, s.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", s.wantStderr, stderr)
			}
		})
	}
	// history --json is one event per line, in order.
	_, stdout, _ := run(t.Context(), url, "history", "ada", "--json")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	// 12 events: the merge wrote on bob only.
	if len(lines) != 12 || !strings.Contains(lines[0], `"type":"PersonCreated"`) || !strings.Contains(lines[11], `"type":"DeathRecorded"`) {
		t.Errorf("history --json has %d lines:\n%s", len(lines), stdout)
	}
	// create without an id makes one.
	code, stdout, _ := run(t.Context(), url, "create", "--name", "Grace Hopper", "--json")
	if code != ctl.ExitOK || !strings.Contains(stdout, `"person_id":"`) {
		t.Errorf("create without id: %d %s", code, stdout)
	}
}

// No NATS at the URL is exit code 6.
func TestUnreachable(t *testing.T) {
	code, _, stderr := run(t.Context(), "nats://127.0.0.1:1", "get", "ada", "--timeout", "500ms")
	if code != ctl.ExitUnavailable || !strings.Contains(stderr, "cannot reach NATS") {
		t.Errorf("exit code %d, stderr %q; want %d", code, stderr, ctl.ExitUnavailable)
	}
}

// --help lists every command and the exit codes.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	if code := ctl.Run(t.Context(), []string{"--help"}, &out, &out); code != ctl.ExitOK {
		t.Errorf("--help exit code %d", code)
	}
	for _, want := range []string{"attribute invalidate", "contact verify", "watch", "Exit codes:", "3  rejected: INVALID_ARGUMENT, FAILED_PRECONDITION or ALREADY_EXISTS", "6  unavailable"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	out.Reset()
	if code := ctl.Run(t.Context(), []string{"contact", "add", "--help"}, &out, &out); code != ctl.ExitOK || !strings.Contains(out.String(), "-phone") {
		t.Errorf("contact add --help: %d\n%s", code, out.String())
	}
	if code := ctl.Run(t.Context(), nil, &out, &out); code != ctl.ExitUsage {
		t.Errorf("no arguments: exit code %d, want %d", code, ctl.ExitUsage)
	}
}

// watch prints the stored events, then new ones live; Ctrl-C ends it with
// exit code 0 and its consumer is gone from the server.
func TestWatch(t *testing.T) {
	url := startNode(t).NATSURL()
	if code, _, stderr := run(t.Context(), url, "create", "wat", "--name", "Wat Tyler"); code != ctl.ExitOK {
		t.Fatal(stderr)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- ctl.Run(ctx, []string{"watch", "wat", "--nats-url", url}, &out, &errOut) }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "v1 ") })
	if code, _, stderr := run(t.Context(), url, "rename", "wat", "--name", "Walter Tyler"); code != ctl.ExitOK {
		t.Fatal(stderr)
	}
	waitFor(t, func() bool {
		return strings.Contains(out.String(), "v2 ") && strings.Contains(out.String(), "NameUpdated")
	})
	cancel()
	if code := <-done; code != ctl.ExitOK {
		t.Errorf("watch exit code %d; stderr %s", code, errOut.String())
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), "PERSON_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Errorf("%d consumers left on the stream after watch", info.State.Consumers)
	}
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

package migrate_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/runtime/migrate"
)

// The personctl commands over a legacy stream: dry run, migrate, verify,
// finalize, with their exit codes and outputs.
func TestCommand(t *testing.T) {
	srv, nc := natstest.Connect(t, natstest.WithSyncInterval())
	legacyStream(t, nc, "LEGACY", 4, "envelope", "flat")
	url := srv.ClientURL()
	steps := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"no command", nil, migrate.ExitUsage, nil, []string{"usage:"}},
		{"help", []string{"migrate", "-h"}, migrate.ExitOK, []string{"--dry-run", "--sample"}, nil},
		{"unknown flag", []string{"migrate", "--bogus"}, migrate.ExitUsage, nil, []string{"bogus"}},
		{"target required", []string{"verify", "--nats-url", url}, migrate.ExitUsage, nil, []string{"--target is required"}},
		{"exclusive flags", []string{"migrate", "--dry-run", "--finalize", "--target", "X"}, migrate.ExitUsage, nil, []string{"exclude"}},
		{"no server", []string{"migrate", "--dry-run", "--nats-url", "nats://127.0.0.1:1", "--timeout", "200ms"}, migrate.ExitUnavailable, nil, []string{"connect"}},
		{"dry run", []string{"migrate", "--dry-run", "--nats-url", url, "--source", "LEGACY"}, migrate.ExitOK,
			[]string{"legacy envelope", "legacy flat 1.0", "OK: every event can be migrated"}, []string{"migrate: dry-run"}},
		{"migrate", []string{"migrate", "--nats-url", url, "--source", "LEGACY", "--target", "PERSON_EVENTS_V2"}, migrate.ExitOK,
			[]string{"switched", "16 events written", "personctl migrate --finalize --target PERSON_EVENTS_V2"}, []string{"migrate: copy", "migrate: tail"}},
		{"migrate again", []string{"migrate", "--nats-url", url, "--source", "LEGACY", "--target", "PERSON_EVENTS_V2"}, migrate.ExitError,
			nil, []string{"exists"}},
		{"verify", []string{"verify", "--nats-url", url, "--target", "PERSON_EVENTS_V2", "--sample", "2"}, migrate.ExitOK,
			[]string{"a sample of 2 persons", "folded state equal", "OK: the streams agree"}, nil},
		{"finalize", []string{"migrate", "--finalize", "--nats-url", url, "--target", "PERSON_EVENTS_V2"}, migrate.ExitOK,
			[]string{"OK: the streams agree"}, nil},
		{"finalize again", []string{"migrate", "--finalize", "--nats-url", url, "--target", "PERSON_EVENTS_V2"}, migrate.ExitOK,
			[]string{"already finalized"}, nil},
	}
	for _, tc := range steps {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := migrate.Command(t.Context(), tc.args, &stdout, &stderr)
			if got != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, want := range tc.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}

// Problems give exit code 3, and --json prints the report.
func TestCommandProblems(t *testing.T) {
	srv, nc := natstest.Connect(t, natstest.WithSyncInterval())
	legacyStream(t, nc, "LEGACY", 2, "unsupported")
	var stdout, stderr bytes.Buffer
	code := migrate.Command(t.Context(), []string{"migrate", "--dry-run", "--json", "--nats-url", srv.ClientURL(), "--source", "LEGACY"}, &stdout, &stderr)
	if code != migrate.ExitProblems {
		t.Fatalf("dry run exit %d, want %d\n%s", code, migrate.ExitProblems, stderr.String())
	}
	var r migrate.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout.String())
	}
	if r.InvalidCount != 2 || len(r.Invalid) != 2 || r.Invalid[0].Seq == 0 {
		t.Errorf("report: %+v", r)
	}
	stdout.Reset()
	stderr.Reset()
	code = migrate.Command(t.Context(), []string{"migrate", "--nats-url", srv.ClientURL(), "--source", "LEGACY", "--target", "NEW"}, &stdout, &stderr)
	if code != migrate.ExitProblems || !strings.Contains(stderr.String(), "--dry-run") {
		t.Fatalf("migrate exit %d, want %d and a hint to dry-run\n%s", code, migrate.ExitProblems, stderr.String())
	}
}

package ctl_test

import (
	"strings"
	"testing"

	"github.com/cim/personrt/cmd/personctl/internal/ctl"
)

// The operator tools run through personctl with the global flags before
// their name: dlq against a node, migrate and verify parse their own.
func TestTools(t *testing.T) {
	url := startNode(t).NATSURL()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"dlq list on an empty stream", []string{"--nats-url", url, "dlq", "list"}, ctl.ExitOK, ""},
		{"dlq usage", []string{"--nats-url", url, "dlq"}, ctl.ExitUsage, ""},
		{"dlq without a node", []string{"--nats-url", "nats://127.0.0.1:1", "dlq", "list"}, ctl.ExitUnavailable, ""},
		{"migrate help", []string{"migrate", "--help"}, ctl.ExitOK, "--dry-run"},
		{"dry-run of the node's own stream", []string{"migrate", "--dry-run", "--nats-url", url}, ctl.ExitOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut syncBuffer
			code := ctl.Run(t.Context(), tc.args, &out, &errOut)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out.String(), errOut.String())
			}
			if both := out.String() + errOut.String(); !strings.Contains(both, tc.wantOut) {
				t.Fatalf("output does not mention %q:\n%s", tc.wantOut, both)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cim/personrt/runtime/app"
	"github.com/cim/personrt/runtime/natsserver"
)

// The example, built and run as its own process, joins a running node's
// cluster as a client-only member and creates, renames and reads a person
// through the typed client and with bare protoactor-go requests; it exits 0
// (its shutdown does not hit protoactor-go's client Shutdown panic).
func TestRemoteClientAgainstANode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the example")
	}
	node, err := app.New(app.Config{DataDir: t.TempDir(), NATSAddr: "127.0.0.1:0", HTTPAddr: app.Off, Sync: natsserver.SyncInterval})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 20*time.Second)
		defer cancel()
		if err := node.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})

	bin := filepath.Join(t.TempDir(), "remoteclient")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.CommandContext(t.Context(), goBin, append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--nats-url", node.NATSURL(), "--person", "ada")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("remoteclient: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	for _, want := range []string{
		"typed client: created ada at version 1",
		"bare request: UpdateName answered person.v1.CommandReply at version 2",
		"bare request: GetPerson answered person.v1.PersonReply: Ada King, version 2, LIFECYCLE_STATE_ACTIVE",
		"typed client: ada is at version 2",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, &stdout)
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr:\n%s", &stderr)
	}
}

package app_test

import (
	"bytes"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/runtime/migrate"
)

// A migration switches a running node to the new stream: commands before
// the migration are copied, commands after it land in the new stream, and
// verify passes.
func TestMigrationSwitchesTheRunningNode(t *testing.T) {
	a := startApp(t, t.TempDir())
	defer shutdown(t, a)
	c := gatewayClient(t, a)
	id := "migrated-ada"
	if _, err := c.Execute(t.Context(), create(id)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(t.Context(), rename(id, "King")); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := migrate.Command(t.Context(), []string{"migrate", "--nats-url", a.NATSURL(), "--target", "PERSON_EVENTS_V2"}, &out, &errOut); code != 0 {
		t.Fatalf("migrate exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	// The node's grain may still hold the person; its next append goes to
	// the new stream (the client retries UNAVAILABLE while the node switches).
	res, err := c.Execute(t.Context(), rename(id, "Byron"))
	if err != nil {
		t.Fatal(err)
	}
	if res.GetVersion() != 3 {
		t.Fatalf("version after migration = %d, want 3", res.GetVersion())
	}
	nc, err := nats.Connect(a.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), "PERSON_EVENTS_V2")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("new stream holds %d events, want 3 (2 copied + 1 after the switch)", info.State.Msgs)
	}
	out.Reset()
	errOut.Reset()
	if code := migrate.Command(t.Context(), []string{"verify", "--nats-url", a.NATSURL(), "--target", "PERSON_EVENTS_V2", "--source", "PERSON_EVENTS"}, &out, &errOut); code != 0 {
		t.Fatalf("verify exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
}

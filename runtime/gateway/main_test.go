package gateway_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence/memstore"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/natsserver"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/personkind"
)

// The package's tests share one embedded nats-server and one node hosting
// real person grains (protoactor-go allows one node per test process at a
// time); each test starts its own gateway on its own subject prefix.
var fx struct {
	srv     *natsserver.Server
	store   *memstore.Store
	persons *client.Client
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway tests:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "gateway-test-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	srv, err := natsserver.Start(natsserver.Config{Name: "gateway-test", StoreDir: dir, Port: -1, Sync: natsserver.SyncInterval})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	defer func() {
		if err := srv.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "nats shutdown:", err)
		}
	}()
	store := memstore.New()
	host, err := personkind.NewHost(grain.Config{Events: store, Snapshots: store})
	if err != nil {
		return 0, err
	}
	n, err := node.New(node.Config{Kinds: []node.Kind{host}})
	if err != nil {
		return 0, err
	}
	if err := n.Start(ctx); err != nil {
		return 0, err
	}
	defer func() {
		if err := n.Shutdown(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "node shutdown:", err)
		}
	}()
	c, err := client.New(n.Cluster(), client.Config{})
	if err != nil {
		return 0, err
	}
	fx.srv, fx.store, fx.persons = srv, store, c
	return m.Run(), nil
}

// connect returns a new connection to the shared server, closed at the
// end of the test.
func connect(t *testing.T) *nats.Conn {
	t.Helper()
	nc, err := fx.srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// westernName is a valid name.
func westernName(given, family string) *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{given}, FamilyNames: []string{family}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

func createCmd(id string) *personv1.Command {
	return &personv1.Command{PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: westernName("Ada", "Lovelace")}}}
}

func renameCmd(id, family string) *personv1.Command {
	return &personv1.Command{PersonId: id, Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{Name: westernName("Ada", family), Reason: "marriage"}}}
}

package gateway_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/gateway"
)

// A gateway over a node's grain client; any NATS client sends JSON
// commands, the Go client reads the person back.
func Example() {
	ctx := context.Background()
	nc, err := fx.srv.Connect() // the node's NATS server
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	g, err := gateway.New(gateway.Config{Conn: nc, Persons: fx.persons, History: fx.store, Prefix: "example.person"})
	if err != nil {
		panic(err)
	}
	if err := g.Start(ctx); err != nil {
		panic(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := g.Shutdown(sctx); err != nil {
			panic(err)
		}
	}()

	id := newID()
	reply, err := nc.Request("example.person.commands."+id, []byte(`{"create_person":{"name":{"given_names":["Ada"],"family_names":["Lovelace"],"convention":"NAMING_CONVENTION_WESTERN"}}}`), 5*time.Second)
	if err != nil {
		panic(err)
	}
	var r personv1.CommandReply
	if err := protojson.Unmarshal(reply.Data, &r); err != nil {
		panic(err)
	}
	fmt.Println(reply.Header.Get(gateway.HeaderType), r.GetResult().GetVersion(), r.GetResult().GetEvents()[0].GetType())

	c, err := gateway.NewClient(nc, gateway.ClientConfig{Prefix: "example.person"})
	if err != nil {
		panic(err)
	}
	p, err := c.Get(ctx, id)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.GetName().GetFamilyNames(), p.GetLifecycle())
	// Output:
	// person.v1.CommandReply 1 PersonCreated
	// [Lovelace] LIFECYCLE_STATE_ACTIVE
}

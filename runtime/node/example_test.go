package node_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence/memstore"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/personkind"
)

// A standalone node hosting person grains over an in-memory store, and a
// client that creates a person and reads it back.
func Example() {
	ctx := context.Background()
	store := memstore.New()
	persons, err := personkind.NewHost(grain.Config{Events: store, Snapshots: store})
	if err != nil {
		panic(err)
	}
	n, err := node.New(node.Config{Kinds: []node.Kind{persons}})
	if err != nil {
		panic(err)
	}
	if err := n.Start(ctx); err != nil {
		panic(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
			panic(err)
		}
	}()

	c, err := client.New(n.Cluster(), client.Config{})
	if err != nil {
		panic(err)
	}
	res, err := c.Execute(ctx, &personv1.Command{
		PersonId: "ada",
		Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: &personv1.PersonName{
			GivenNames: []string{"Ada"}, FamilyNames: []string{"Lovelace"}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN,
		}}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.GetEvents()[0].GetType(), "at version", res.GetVersion())

	p, err := c.Get(ctx, "ada")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.GetName().GetFamilyNames(), p.GetLifecycle())
	// Output:
	// PersonCreated at version 1
	// [Lovelace] LIFECYCLE_STATE_ACTIVE
}

package placement_test

import (
	"fmt"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/cim/personrt/runtime/placement"
)

func ExampleTable() {
	table := placement.NewTable([]*cluster.Member{
		{Id: "a", Host: "127.0.0.1", Port: 17001, Kinds: []string{"Person"}},
		{Id: "b", Host: "127.0.0.1", Port: 17002, Kinds: []string{"Person"}},
		{Id: "c", Host: "127.0.0.1", Port: 17003, Kinds: []string{"Person"}},
	})
	for _, id := range []string{"person-00000", "person-00002", "person-00004"} {
		fmt.Println(id, "->", table.Owner("Person", id))
	}
	fmt.Printf("unhosted kind -> %q\n", table.Owner("Onboarding", "person-00000"))
	// Output:
	// person-00000 -> 127.0.0.1:17001
	// person-00002 -> 127.0.0.1:17002
	// person-00004 -> 127.0.0.1:17003
	// unhosted kind -> ""
}

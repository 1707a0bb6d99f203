package migrate_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cim/personrt/runtime/migrate"
)

// personctl wires its migrate and verify commands to Command.
func ExampleCommand() {
	var help strings.Builder
	code := migrate.Command(context.Background(), []string{"migrate", "--help"}, &help, io.Discard)
	fmt.Println(code)
	fmt.Println(strings.SplitN(help.String(), "\n", 2)[0])
	fmt.Println(migrate.Command(context.Background(), []string{"verify", "--sample", "10"}, io.Discard, os.Stdout))
	// Output:
	// 0
	// usage:
	// personctl verify: --target is required
	// 2
}

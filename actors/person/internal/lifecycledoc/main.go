// Command lifecycledoc writes docs/LIFECYCLE.md from the person lifecycle
// table. It is run by `go generate ./actors/person`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/cim/personrt/actors/person"
)

func main() {
	out := flag.String("o", "", "output file (default: standard output)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "lifecycledoc:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	var buf bytes.Buffer
	if err := person.WriteLifecycleDoc(&buf); err != nil {
		return err
	}
	if out == "" {
		_, err := os.Stdout.Write(buf.Bytes())
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}

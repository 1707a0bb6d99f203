// Command bench runs the end-to-end benchmarks of the Person runtime
// against embedded nats-servers, each with its raw baseline in the same run:
//
//	go run ./bench -scenario append,append-concurrent,hydrate [-quick] [-json]
//
// With -json every figure is one line
// {"scenario","metric","value","baseline","ratio","better"} (see
// bench/README.md and the benchmark contract in the design). Scenarios
// register themselves from their own files (see scenario.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var (
		list   = flag.String("scenario", "", "comma-separated scenarios to run")
		quick  = flag.Bool("quick", false, "reduced sizes: every metric in under a minute")
		asJSON = flag.Bool("json", false, "print one JSON line per figure")
		dir    = flag.String("dir", "", "scratch directory for server stores (default: a temp dir, removed)")
		show   = flag.Bool("list", false, "list the scenarios and exit")
	)
	flag.Parse()
	if *show {
		for _, n := range scenarioNames() {
			fmt.Printf("%-20s %s\n", n, scenarios[n].About)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *list, *quick, *asJSON, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// run runs the selected scenarios one after another.
func run(ctx context.Context, list string, quick, asJSON bool, dir string) error {
	selected, err := selectScenarios(list)
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp(dir, "personrt-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err := os.RemoveAll(root); err != nil {
			fmt.Fprintln(os.Stderr, "bench: remove scratch dir:", err)
		}
	}()
	for _, s := range selected {
		env := &Env{Quick: quick, scenario: s.Name, out: os.Stdout, json: asJSON, dir: root, logw: os.Stderr}
		err := s.Run(ctx, env)
		env.close()
		if err != nil {
			return fmt.Errorf("scenario %s: %w", s.Name, err)
		}
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/personkind"
)

// benchNode is a standalone node hosting person grains (and any extra
// kinds) in the bench process, with a typed client.
type benchNode struct {
	node   *node.Node
	client *client.Client
}

// startNode starts a node whose person grains use events and snapshots
// with cfg's other settings (SnapshotEvery defaults to persond's 16). It is
// shut down when the scenario ends.
func startNode(ctx context.Context, env *Env, events persistence.EventStore, snapshots persistence.SnapshotStore, cfg grain.Config, extra ...node.Kind) (*benchNode, error) {
	cfg.Events, cfg.Snapshots = events, snapshots
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = 16
	}
	host, err := personkind.NewHost(cfg)
	if err != nil {
		return nil, err
	}
	n, err := node.New(node.Config{Kinds: append([]node.Kind{host}, extra...), RequestTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, err
	}
	env.Defer(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := n.Shutdown(sctx); err != nil {
			env.Logf("node shutdown: %v", err)
		}
	})
	c, err := client.New(n.Cluster(), client.Config{Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	return &benchNode{node: n, client: c}, nil
}

// benchName is a valid person name.
func benchName(family string) *personv1.PersonName {
	return &personv1.PersonName{GivenNames: []string{"Ada", "Augusta"}, FamilyNames: []string{family}, Convention: personv1.NamingConvention_NAMING_CONVENTION_WESTERN}
}

// renameCommand renames id; i varies the name so that every command writes.
func renameCommand(id string, i int) *personv1.Command {
	return &personv1.Command{PersonId: id, Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{
		Name: benchName(fmt.Sprintf("King%d", i%7)), Reason: "marriage",
	}}}
}

// createPersons creates every id through the grains, 64 at a time (setup,
// not measured).
func createPersons(ctx context.Context, c *client.Client, ids []string) error {
	return forEach(ctx, ids, func(ctx context.Context, id string) error {
		cmd := &personv1.Command{PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{Name: benchName("Byron"), Source: "bench"}}}
		if _, err := c.Execute(ctx, cmd); err != nil {
			return fmt.Errorf("create %s: %w", id, err)
		}
		return nil
	})
}

// forEach calls f for every id, 64 at a time, and returns the first
// error of each worker.
func forEach(ctx context.Context, ids []string, f func(context.Context, string) error) error {
	const workers = 64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				if err := f(ctx, ids[i]); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

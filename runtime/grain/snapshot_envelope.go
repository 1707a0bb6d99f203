package grain

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/runtimev1"
)

// The shell stores a snapshot's state as a runtimev1.GrainSnapshot: the
// kind's bytes and the idempotency window. persistence.Snapshot.SchemaVersion
// tags both: the envelope's format in its top byte, the kind's
// SnapshotCodec.SchemaVersion in the 24 bits below. A snapshot with another
// tag (such as a kind's bare bytes, format 0, written before the envelope
// existed) is ignored and the state rebuilt from events.
const (
	snapshotFormat = 1
	kindSchemaBits = 24
	maxKindSchema  = 1<<kindSchemaBits - 1
)

// errBadSnapshot wraps the reasons a stored snapshot's envelope is unusable.
var errBadSnapshot = errors.New("grain: unusable snapshot envelope")

// storedSchemaVersion returns the persistence.Snapshot.SchemaVersion of a
// snapshot of the kind's schema version kind.
func storedSchemaVersion(kind uint32) uint32 {
	return snapshotFormat<<kindSchemaBits | kind
}

// wrapSnapshot returns the stored state of a snapshot: the kind's state and
// the commands of w, oldest first.
func wrapSnapshot(state []byte, w *window) ([]byte, error) {
	env := &runtimev1.GrainSnapshot{State: state}
	if n := w.len(); n > 0 {
		spans := make([]runtimev1.CommandSpan, n) // one allocation for all of them
		env.Commands = make([]*runtimev1.CommandSpan, 0, n)
		for e := range w.all() {
			s, c := e.span(), &spans[len(env.Commands)]
			c.CommandId, c.FirstVersion, c.LastVersion = e.id, s.first, s.last
			env.Commands = append(env.Commands, c)
		}
	}
	b, err := proto.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot envelope: %w", err)
	}
	return b, nil
}

// unwrapSnapshot returns the kind's state kept in the stored state b of a
// snapshot at version, and its idempotency window bounded to size. It
// rejects an envelope that does not decode or whose window names versions
// the snapshot does not cover: errBadSnapshot, naming the rule.
func unwrapSnapshot(b []byte, version uint64, size int) ([]byte, window, error) {
	var env runtimev1.GrainSnapshot
	if err := proto.Unmarshal(b, &env); err != nil {
		return nil, window{}, fmt.Errorf("%w: rule snapshot.envelope: %w", errBadSnapshot, err)
	}
	cmds := env.GetCommands()
	var prev uint64
	for i, c := range cmds {
		first, last := c.GetFirstVersion(), c.GetLastVersion()
		switch {
		case c.GetCommandId() == "":
			return nil, window{}, fmt.Errorf("%w: rule snapshot.command_id: command %d has no id", errBadSnapshot, i)
		case first == 0 || first > last || last > version || last-first >= math.MaxUint32:
			return nil, window{}, fmt.Errorf("%w: rule snapshot.command_versions: command %s wrote versions %d..%d, snapshot is at %d", errBadSnapshot, c.GetCommandId(), first, last, version)
		case first <= prev:
			return nil, window{}, fmt.Errorf("%w: rule snapshot.command_order: command %s at version %d follows version %d", errBadSnapshot, c.GetCommandId(), first, prev)
		}
		prev = last
	}
	if len(cmds) == 0 {
		return env.GetState(), window{}, nil
	}
	// The newest size commands, each id once: a later span of an id
	// replaces its earlier one, as window.record does.
	newest := make(map[string]int, len(cmds))
	for i, c := range cmds {
		newest[c.GetCommandId()] = i
	}
	keep := make([]written, 0, min(len(newest), size))
	for i := len(cmds) - 1; i >= 0 && len(keep) < size; i-- {
		if c := cmds[i]; newest[c.GetCommandId()] == i {
			first, last := c.GetFirstVersion(), c.GetLastVersion()
			keep = append(keep, written{id: c.GetCommandId(), first: first, n: uint32(last - first + 1), hash: idHash(c.GetCommandId())})
		}
	}
	slices.Reverse(keep)
	return env.GetState(), window{ring: keep}, nil
}

package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/persistence/streamswitch"
)

// Phase is how far a migration got. A migration moves forward only:
// copying → fenced → sealed → switched → finalized, or copying → copied
// when it does not switch.
type Phase string

// Phases of a migration.
const (
	// PhaseCopying: the source is being copied; the checkpoint says how far.
	PhaseCopying Phase = "copying"
	// PhaseFenced: the route record is fenced; writers stopped.
	PhaseFenced Phase = "fenced"
	// PhaseSealed: the source stream is sealed; its tail is being copied.
	PhaseSealed Phase = "sealed"
	// PhaseSwitched: the new stream is active; the source is kept.
	PhaseSwitched Phase = "switched"
	// PhaseCopied: copied without a switch (migrate --no-switch, or the
	// new stream already is the active one).
	PhaseCopied Phase = "copied"
	// PhaseFinalized: verified, and the source deleted.
	PhaseFinalized Phase = "finalized"
)

// Errors about the migration record.
var (
	// ErrMigrationExists is returned by Migrate without Resume when a
	// migration to the target stream was started before.
	ErrMigrationExists = errors.New("migrate: a migration to this target exists")
	// ErrNoMigration is returned by a resume, Verify without a source, and
	// Finalize when no migration to the target stream was started.
	ErrNoMigration = errors.New("migrate: no migration to this target")
	// ErrConcurrentMigration is returned when the migration record changed
	// under this migrator: another one works on the same target.
	ErrConcurrentMigration = errors.New("migrate: another migrator updated the migration record")
)

// Status is the migration record of one target stream, kept in the state
// bucket under the target's name.
type Status struct {
	Source string `json:"source"`
	// SourceServer is the URL of the source's server (without user
	// information) when it is not the target's.
	SourceServer string             `json:"source_server,omitempty"`
	SourcePrefix string             `json:"source_prefix"`
	Target       streamswitch.Route `json:"target"`
	RouteKey     string             `json:"route_key"`
	// From is the route the switch leaves: the key's active route when the
	// migration started. Nil when the migration does not switch.
	From  *streamswitch.Route `json:"from,omitempty"`
	Phase Phase               `json:"phase"`
	// Checkpoint: every source message up to this stream sequence is
	// copied (or was not an event).
	Checkpoint uint64    `json:"checkpoint"`
	Copied     uint64    `json:"copied"` // events written, over all runs
	StartedAt  time.Time `json:"started_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// stateStore reads and writes migration records by compare-and-set.
type stateStore struct {
	kv  jetstream.KeyValue // nil: read-only without a bucket
	key string
	rev uint64 // revision of the record last read or written
}

// load returns the record, found false when there is none.
func (s *stateStore) load(ctx context.Context) (Status, bool, error) {
	if s.kv == nil {
		return Status{}, false, nil
	}
	e, err := s.kv.Get(ctx, s.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Status{}, false, nil
	}
	if err != nil {
		return Status{}, false, fmt.Errorf("migrate: read the migration record %s: %w", s.key, err)
	}
	var st Status
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return Status{}, false, fmt.Errorf("migrate: migration record %s revision %d: %w", s.key, e.Revision(), err)
	}
	s.rev = e.Revision()
	return st, true, nil
}

// save stores st over the revision last seen (creating the record when
// there was none).
func (s *stateStore) save(ctx context.Context, st Status) error {
	st.UpdatedAt = time.Now().UTC()
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("migrate: encode the migration record: %w", err)
	}
	var rev uint64
	if s.rev == 0 {
		rev, err = s.kv.Create(ctx, s.key, b)
	} else {
		rev, err = s.kv.Update(ctx, s.key, b, s.rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("%w: record %s", ErrConcurrentMigration, s.key)
	}
	if err != nil {
		return fmt.Errorf("migrate: save the migration record %s: %w", s.key, err)
	}
	s.rev = rev
	return nil
}

// redactURL drops the user information of a server URL.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	p.User = nil
	return p.String()
}

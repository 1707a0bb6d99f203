package memstore

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence"
)

// Store is an in-memory event and snapshot store. The zero value is not
// usable; call [New]. Safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	closed bool                                 // guarded by mu
	events map[string][]*personv1.EventEnvelope // guarded by mu; index i holds version i+1
	snaps  map[string]persistence.Snapshot      // guarded by mu
}

var (
	_ persistence.EventStore    = (*Store)(nil)
	_ persistence.SnapshotStore = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{
		events: make(map[string][]*personv1.EventEnvelope),
		snaps:  make(map[string]persistence.Snapshot),
	}
}

// Append implements [persistence.EventStore].
func (s *Store) Append(ctx context.Context, personID string, expectedVersion uint64, events []*personv1.EventEnvelope) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("append %s@%d: %w", personID, expectedVersion, err)
	}
	if err := persistence.CheckAppend(personID, expectedVersion, events, upcast.CurrentVersion); err != nil {
		return 0, fmt.Errorf("append %s@%d: %w", personID, expectedVersion, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, fmt.Errorf("append %s@%d: %w", personID, expectedVersion, persistence.ErrClosed)
	}
	stored := s.events[personID]
	last := uint64(len(stored))
	newVersion := expectedVersion + uint64(len(events))
	if last != expectedVersion {
		if last == newVersion && sameIDs(stored[expectedVersion:], events) {
			return newVersion, nil // a retry of an append that was stored
		}
		return 0, fmt.Errorf("append %s@%d: last version is %d: %w", personID, expectedVersion, last, persistence.ErrConflict)
	}
	for _, e := range events {
		stored = append(stored, proto.CloneOf(e))
	}
	s.events[personID] = stored
	return newVersion, nil
}

// sameIDs reports whether stored and events carry the same event ids.
func sameIDs(stored, events []*personv1.EventEnvelope) bool {
	if len(stored) != len(events) {
		return false
	}
	for i, e := range events {
		if stored[i].GetEventId() != e.GetEventId() {
			return false
		}
	}
	return true
}

// Load implements [persistence.EventStore]. fn runs outside the store's lock
// and receives a clone it may keep or modify.
func (s *Store) Load(ctx context.Context, personID string, fromVersion uint64, fn func(*personv1.EventEnvelope) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("load %s from %d: %w", personID, fromVersion, err)
	}
	if err := persistence.CheckPersonID(personID); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	s.mu.RLock()
	closed, stored := s.closed, s.events[personID]
	s.mu.RUnlock()
	if closed {
		return fmt.Errorf("load %s from %d: %w", personID, fromVersion, persistence.ErrClosed)
	}
	if fromVersion > 0 {
		fromVersion--
	}
	for i := fromVersion; i < uint64(len(stored)); i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("load %s at %d: %w", personID, i+1, err)
		}
		if err := fn(proto.CloneOf(stored[i])); err != nil {
			return err
		}
	}
	return nil
}

// LastVersion implements [persistence.EventStore].
func (s *Store) LastVersion(ctx context.Context, personID string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("last version of %s: %w", personID, err)
	}
	if err := persistence.CheckPersonID(personID); err != nil {
		return 0, fmt.Errorf("last version: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, fmt.Errorf("last version of %s: %w", personID, persistence.ErrClosed)
	}
	return uint64(len(s.events[personID])), nil
}

// SaveSnapshot implements [persistence.SnapshotStore]. A snapshot older than
// the stored one is ignored; one of the same version replaces it.
func (s *Store) SaveSnapshot(ctx context.Context, snap persistence.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save snapshot %s@%d: %w", snap.PersonID, snap.Version, err)
	}
	if err := persistence.CheckSnapshot(snap); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	snap.State = bytes.Clone(snap.State)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("save snapshot %s@%d: %w", snap.PersonID, snap.Version, persistence.ErrClosed)
	}
	if old, ok := s.snaps[snap.PersonID]; ok && old.Version > snap.Version {
		return nil
	}
	s.snaps[snap.PersonID] = snap
	return nil
}

// LoadSnapshot implements [persistence.SnapshotStore].
func (s *Store) LoadSnapshot(ctx context.Context, personID string) (persistence.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return persistence.Snapshot{}, fmt.Errorf("load snapshot %s: %w", personID, err)
	}
	if err := persistence.CheckPersonID(personID); err != nil {
		return persistence.Snapshot{}, fmt.Errorf("load snapshot: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return persistence.Snapshot{}, fmt.Errorf("load snapshot %s: %w", personID, persistence.ErrClosed)
	}
	snap, ok := s.snaps[personID]
	if !ok {
		return persistence.Snapshot{}, fmt.Errorf("load snapshot %s: %w", personID, persistence.ErrNotFound)
	}
	snap.State = bytes.Clone(snap.State)
	return snap, nil
}

// Close makes every later call return [persistence.ErrClosed]. It is
// idempotent and always returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

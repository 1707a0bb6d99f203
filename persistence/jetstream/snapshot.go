package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cim/personrt/persistence"
)

// Fields of a stored snapshot value (protobuf wire format, no .proto: the
// value is private to this adapter).
const (
	snapFieldVersion       protowire.Number = 1 // varint: version of the last folded event
	snapFieldSchemaVersion protowire.Number = 2 // varint: schema of State
	snapFieldStreamSeq     protowire.Number = 3 // varint: stream sequence of that event, 0 if unknown
	snapFieldState         protowire.Number = 4 // bytes: the state
)

// maxSnapshotUpdates bounds SaveSnapshot's compare-and-set loop.
const maxSnapshotUpdates = 8

// SaveSnapshot implements [persistence.SnapshotStore]. The value also holds
// the stream sequence of the snapshot's last event, so that a Load after it
// reads only the events that follow. It never replaces a newer snapshot:
// the bucket entry is updated by revision (compare and set).
func (s *Store) SaveSnapshot(ctx context.Context, snap persistence.Snapshot) error {
	if err := persistence.CheckSnapshot(snap); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if err := s.check(ctx, snap.PersonID); err != nil {
		return fmt.Errorf("save snapshot %s@%d: %w", snap.PersonID, snap.Version, err)
	}
	seq, err := s.seqOf(ctx, snap.PersonID, snap.Version)
	if err != nil {
		return fmt.Errorf("save snapshot %s@%d: %w", snap.PersonID, snap.Version, err)
	}
	value := encodeSnapshot(snap, seq)
	for range maxSnapshotUpdates {
		cur, err := s.kv.Get(ctx, snap.PersonID)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = s.kv.Create(ctx, snap.PersonID, value)
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue // another writer was first: compare with its snapshot
			}
		case err != nil:
		default:
			if old, _, derr := decodeSnapshot(snap.PersonID, cur.Value()); derr == nil && old.Version > snap.Version {
				return nil
			}
			_, err = s.kv.Update(ctx, snap.PersonID, value, cur.Revision())
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("save snapshot %s@%d: %w", snap.PersonID, snap.Version, err)
		}
		s.cache.addPosition(snap.PersonID, position{version: snap.Version, seq: seq})
		return nil
	}
	return fmt.Errorf("save snapshot %s@%d: %d concurrent updates in a row: %w", snap.PersonID, snap.Version, maxSnapshotUpdates, persistence.ErrConflict)
}

// LoadSnapshot implements [persistence.SnapshotStore]. It remembers the
// snapshot's stream position for the Load that follows. A stored value that
// does not decode is logged and reported as [persistence.ErrNotFound]: a
// snapshot is only a shortcut, the events rebuild the state.
func (s *Store) LoadSnapshot(ctx context.Context, personID string) (persistence.Snapshot, error) {
	if err := s.check(ctx, personID); err != nil {
		return persistence.Snapshot{}, fmt.Errorf("load snapshot %s: %w", personID, err)
	}
	e, err := s.kv.Get(ctx, personID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return persistence.Snapshot{}, fmt.Errorf("load snapshot %s: %w", personID, persistence.ErrNotFound)
	}
	if err != nil {
		return persistence.Snapshot{}, fmt.Errorf("load snapshot %s: %w", personID, err)
	}
	snap, seq, err := decodeSnapshot(personID, e.Value())
	if err != nil {
		s.cfg.Logger.Warn("ignoring undecodable snapshot", slog.String("person_id", personID), slog.Uint64("revision", e.Revision()), slog.Any("error", err))
		return persistence.Snapshot{}, fmt.Errorf("load snapshot %s: ignoring an undecodable snapshot (%v): %w", personID, err, persistence.ErrNotFound)
	}
	s.cache.addPosition(personID, position{version: snap.Version, seq: seq})
	return snap, nil
}

// seqOf returns the stream sequence of personID's event at version: from
// the cache, else through the backlinks of the last event, else by scanning
// the subject (snapshots are saved off the command path). It returns 0 when
// no such event is stored.
func (s *Store) seqOf(ctx context.Context, personID string, version uint64) (uint64, error) {
	if seq, ok := s.cache.get(personID).at(version); ok {
		return seq, nil
	}
	last, found, err := s.lastMsg(ctx, personID)
	if err != nil || !found {
		return 0, err
	}
	ll, _, err := linksOf(last)
	if err != nil {
		return 0, fmt.Errorf("stored event at stream sequence %d: %w", last.seq, err)
	}
	if ll.version < version {
		return 0, nil
	}
	r, err := s.newReader(personID)
	if err != nil {
		return 0, err
	}
	defer r.close()
	seqs, err := r.collect(ctx, ll, version)
	if err == nil {
		return seqs[0], nil
	}
	if !errors.Is(err, errNoLinks) && !errors.Is(err, errBrokenLinks) {
		return 0, err
	}
	var start uint64
	if errors.Is(err, errBrokenLinks) {
		// Replies of the interrupted round may still arrive.
		r.close()
		if err := r.subscribe(); err != nil {
			return 0, err
		}
	} else if p, ok := s.cache.get(personID).before(version); ok {
		start = p.seq + 1
	}
	var seq uint64
	err = r.read(ctx, start, func(m stored) error {
		v, _, err := storedVersion(m)
		switch {
		case err != nil:
			return err
		case v == version:
			seq = m.seq
			return errStopRead
		case v > version:
			return errStopRead
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("find the event at version %d: %w", version, err)
	}
	return seq, nil
}

// encodeSnapshot returns the stored value of snap.
func encodeSnapshot(snap persistence.Snapshot, seq uint64) []byte {
	b := make([]byte, 0, len(snap.State)+32)
	b = protowire.AppendTag(b, snapFieldVersion, protowire.VarintType)
	b = protowire.AppendVarint(b, snap.Version)
	b = protowire.AppendTag(b, snapFieldSchemaVersion, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(snap.SchemaVersion))
	b = protowire.AppendTag(b, snapFieldStreamSeq, protowire.VarintType)
	b = protowire.AppendVarint(b, seq)
	b = protowire.AppendTag(b, snapFieldState, protowire.BytesType)
	return protowire.AppendBytes(b, snap.State)
}

// decodeSnapshot decodes a stored value; unknown fields are skipped.
func decodeSnapshot(personID string, b []byte) (snap persistence.Snapshot, seq uint64, err error) {
	snap.PersonID = personID
	snap.State = []byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return snap, 0, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType && num != snapFieldState:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return snap, 0, protowire.ParseError(n)
			}
			b = b[n:]
			switch num {
			case snapFieldVersion:
				snap.Version = v
			case snapFieldSchemaVersion:
				if v > 1<<32-1 {
					return snap, 0, fmt.Errorf("schema version %d overflows uint32", v)
				}
				snap.SchemaVersion = uint32(v)
			case snapFieldStreamSeq:
				seq = v
			}
		case typ == protowire.BytesType && num == snapFieldState:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return snap, 0, protowire.ParseError(n)
			}
			b = b[n:]
			snap.State = append([]byte(nil), v...)
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return snap, 0, protowire.ParseError(n)
			}
			b = b[n:]
		}
	}
	if snap.Version == 0 {
		return snap, 0, errors.New("snapshot without version")
	}
	return snap, seq, nil
}

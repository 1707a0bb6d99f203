package person

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
)

// SnapshotSchemaVersion is the schema_version of the snapshots
// [ToSnapshot] writes and the only one [FromSnapshot] reads. Bump it when
// the meaning of a PersonSnapshot field changes; older snapshots are then
// ignored and the state is rebuilt from events.
const SnapshotSchemaVersion uint32 = 1

// Errors of [FromSnapshot], wrapped with details.
var (
	// ErrSnapshotSchema: the snapshot has another schema_version.
	ErrSnapshotSchema = errors.New("person: unsupported snapshot schema version")
	// ErrInvalidSnapshot: the snapshot is nil or inconsistent.
	ErrInvalidSnapshot = errors.New("person: invalid snapshot")
)

// ToSnapshot returns the snapshot of s. The snapshot is a deep copy: the
// caller may change it freely.
func ToSnapshot(s State) *personv1.PersonSnapshot {
	p := &personv1.PersonSnapshot{
		SchemaVersion:       SnapshotSchemaVersion,
		PersonId:            s.id,
		Version:             s.version,
		Lifecycle:           s.lifecycle,
		Name:                s.name,
		BirthDate:           s.birthDate,
		DeathDate:           s.deathDate,
		Contacts:            s.contacts,
		Attributes:          s.attributes.slice(),
		Source:              s.source,
		StatusReason:        s.statusReason,
		MergedIntoPersonId:  s.mergedInto,
		MergeReason:         s.mergeReason,
		MergedFromPersonIds: s.mergedFrom,
		QualityFlags:        s.flags.slice(),
	}
	if !s.createdAt.IsZero() {
		p.CreatedAt = timestamppb.New(s.createdAt)
	}
	if !s.updatedAt.IsZero() {
		p.UpdatedAt = timestamppb.New(s.updatedAt)
	}
	return proto.CloneOf(p)
}

// FromSnapshot rebuilds a State from a snapshot written by [ToSnapshot]. It
// returns an error wrapping [ErrSnapshotSchema] for another schema version
// and [ErrInvalidSnapshot] for a nil or inconsistent snapshot (an unknown
// lifecycle, a Draft with a version, an existing person without an id or
// name). The State does not share messages with p.
func FromSnapshot(p *personv1.PersonSnapshot) (State, error) {
	if p == nil {
		return State{}, fmt.Errorf("%w: nil", ErrInvalidSnapshot)
	}
	if p.GetSchemaVersion() != SnapshotSchemaVersion {
		return State{}, fmt.Errorf("%w: got %d, want %d", ErrSnapshotSchema, p.GetSchemaVersion(), SnapshotSchemaVersion)
	}
	if _, ok := personv1.LifecycleState_name[int32(p.GetLifecycle())]; !ok {
		return State{}, fmt.Errorf("%w: unknown lifecycle %d", ErrInvalidSnapshot, p.GetLifecycle())
	}
	if p.GetLifecycle() == draft {
		if p.GetVersion() != 0 || p.GetPersonId() != "" {
			return State{}, fmt.Errorf("%w: a Draft snapshot at version %d for %q", ErrInvalidSnapshot, p.GetVersion(), p.GetPersonId())
		}
		return State{}, nil
	}
	if p.GetVersion() == 0 || p.GetPersonId() == "" || p.GetName() == nil {
		return State{}, fmt.Errorf("%w: %s person without version, id or name", ErrInvalidSnapshot, lifecycle.StateName(p.GetLifecycle()))
	}
	p = proto.CloneOf(p)
	return State{
		id:           p.GetPersonId(),
		version:      p.GetVersion(),
		lifecycle:    p.GetLifecycle(),
		name:         p.GetName(),
		birthDate:    p.GetBirthDate(),
		deathDate:    p.GetDeathDate(),
		contacts:     p.GetContacts(),
		attributes:   seqOf(p.GetAttributes()),
		source:       p.GetSource(),
		statusReason: p.GetStatusReason(),
		mergedInto:   p.GetMergedIntoPersonId(),
		mergeReason:  p.GetMergeReason(),
		mergedFrom:   p.GetMergedFromPersonIds(),
		flags:        seqOf(p.GetQualityFlags()),
		createdAt:    timeOf(p.GetCreatedAt()),
		updatedAt:    timeOf(p.GetUpdatedAt()),
	}, nil
}

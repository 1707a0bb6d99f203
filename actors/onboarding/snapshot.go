package onboarding

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/messages/personv1"
)

// SnapshotSchemaVersion is the schema_version of the snapshots [ToSnapshot]
// writes and the only one [FromSnapshot] reads.
const SnapshotSchemaVersion uint32 = 1

// Errors of [FromSnapshot], wrapped with details.
var (
	// ErrSnapshotSchema: the snapshot has another schema_version.
	ErrSnapshotSchema = errors.New("onboarding: unsupported snapshot schema version")
	// ErrInvalidSnapshot: the snapshot is nil or inconsistent.
	ErrInvalidSnapshot = errors.New("onboarding: invalid snapshot")
)

// ToSnapshot returns the snapshot of s, a deep copy.
func ToSnapshot(s State) *personv1.OnboardingSnapshot {
	p := &personv1.OnboardingSnapshot{
		SchemaVersion: SnapshotSchemaVersion,
		PersonId:      s.id,
		Version:       s.version,
		State:         s.state,
		IdentityId:    s.identityID,
		Email:         s.email,
		Phone:         s.phone,
		Components:    s.components,
		LocationId:    s.locationID,
		Deadlines:     s.deadlines,
		FailureReason: s.failureReason,
		FailedIn:      s.failedIn,
	}
	if !s.stepDeadline.IsZero() {
		p.StepDeadline = timestamppb.New(s.stepDeadline)
	}
	if !s.startedAt.IsZero() {
		p.StartedAt = timestamppb.New(s.startedAt)
	}
	if !s.updatedAt.IsZero() {
		p.UpdatedAt = timestamppb.New(s.updatedAt)
	}
	return proto.CloneOf(p)
}

// FromSnapshot rebuilds a State from a snapshot written by [ToSnapshot]. It
// returns an error wrapping [ErrSnapshotSchema] for another schema version
// and [ErrInvalidSnapshot] for a nil or inconsistent one. The State does not
// share messages with p.
func FromSnapshot(p *personv1.OnboardingSnapshot) (State, error) {
	switch {
	case p == nil:
		return State{}, fmt.Errorf("%w: nil", ErrInvalidSnapshot)
	case p.GetSchemaVersion() != SnapshotSchemaVersion:
		return State{}, fmt.Errorf("%w: %d, want %d", ErrSnapshotSchema, p.GetSchemaVersion(), SnapshotSchemaVersion)
	case p.GetState() < started || p.GetState() >= numStates:
		return State{}, fmt.Errorf("%w: unknown state %d", ErrInvalidSnapshot, p.GetState())
	case p.GetVersion() > 0 && p.GetPersonId() == "":
		return State{}, fmt.Errorf("%w: version %d without a person id", ErrInvalidSnapshot, p.GetVersion())
	case p.GetVersion() == 0 && p.GetState() != started:
		return State{}, fmt.Errorf("%w: state %s without events", ErrInvalidSnapshot, p.GetState())
	}
	p = proto.CloneOf(p)
	s := State{
		id:            p.GetPersonId(),
		version:       p.GetVersion(),
		state:         p.GetState(),
		identityID:    p.GetIdentityId(),
		email:         p.GetEmail(),
		phone:         p.GetPhone(),
		components:    p.GetComponents(),
		locationID:    p.GetLocationId(),
		deadlines:     p.GetDeadlines(),
		failureReason: p.GetFailureReason(),
		failedIn:      p.GetFailedIn(),
	}
	if p.GetStepDeadline() != nil {
		s.stepDeadline = p.GetStepDeadline().AsTime()
	}
	if p.GetStartedAt() != nil {
		s.startedAt = p.GetStartedAt().AsTime()
	}
	if p.GetUpdatedAt() != nil {
		s.updatedAt = p.GetUpdatedAt().AsTime()
	}
	return s, nil
}

package persistence

import (
	"errors"
	"fmt"

	"github.com/cim/personrt/messages/personv1"
)

// ErrInvalidSnapshot is returned by SaveSnapshot for a snapshot without a
// person id or version. The wrapped message names the rule.
var ErrInvalidSnapshot = errors.New("persistence: invalid snapshot")

// MaxAppendEvents is the most events one Append stores (the JetStream
// atomic batch limit).
const MaxAppendEvents = 1000

// CheckAppend checks the envelope rules of an Append before anything is
// written, so that every store rejects the same input the same way. The
// rules, named in the returned error (which wraps [ErrInvalidEvent]):
//
//   - person_id.format: personID passes [CheckPersonID];
//   - append.events: 1 to [MaxAppendEvents] events;
//   - event.person_id: every event carries personID;
//   - event.version: versions are expectedVersion+1, +2, … in order;
//   - event.id: every event id is set and unique within the append;
//   - event.body: the body is set;
//   - event.type: the type is the body's message name;
//   - event.schema_version: the schema version is currentVersion(type), the
//     current schema of the body (pass upcast.CurrentVersion).
func CheckAppend(personID string, expectedVersion uint64, events []*personv1.EventEnvelope, currentVersion func(eventType string) uint32) error {
	if err := CheckPersonID(personID); err != nil {
		return err
	}
	if len(events) == 0 || len(events) > MaxAppendEvents {
		return fmt.Errorf("%w: rule append.events: append %s@%d has %d events, want 1 to %d", ErrInvalidEvent, personID, expectedVersion, len(events), MaxAppendEvents)
	}
	var seen map[string]struct{}
	if len(events) > 1 {
		seen = make(map[string]struct{}, len(events))
	}
	for i, e := range events {
		want := expectedVersion + 1 + uint64(i)
		if e == nil {
			return fmt.Errorf("%w: rule event.body: event %d of %s is nil", ErrInvalidEvent, want, personID)
		}
		if err := checkEvent(personID, want, e, currentVersion); err != nil {
			return err
		}
		if seen != nil {
			if _, dup := seen[e.GetEventId()]; dup {
				return fmt.Errorf("%w: rule event.id: event id %s appears twice in append %s@%d", ErrInvalidEvent, e.GetEventId(), personID, expectedVersion)
			}
			seen[e.GetEventId()] = struct{}{}
		}
	}
	return nil
}

// checkEvent checks one envelope that must be version want of personID.
func checkEvent(personID string, want uint64, e *personv1.EventEnvelope, currentVersion func(string) uint32) error {
	switch {
	case e.GetPersonId() != personID:
		return fmt.Errorf("%w: rule event.person_id: event %s carries person %q, appending to %q", ErrInvalidEvent, e.GetEventId(), e.GetPersonId(), personID)
	case e.GetVersion() != want:
		return fmt.Errorf("%w: rule event.version: event %s of %s has version %d, want %d", ErrInvalidEvent, e.GetEventId(), personID, e.GetVersion(), want)
	case e.GetEventId() == "":
		return fmt.Errorf("%w: rule event.id: event %d of %s has no id", ErrInvalidEvent, want, personID)
	}
	body := e.GetEvent().TypeName()
	switch {
	case body == "":
		return fmt.Errorf("%w: rule event.body: event %s (%s@%d) has no body", ErrInvalidEvent, e.GetEventId(), personID, want)
	case e.GetType() != body:
		return fmt.Errorf("%w: rule event.type: event %s has type %q but body %s", ErrInvalidEvent, e.GetEventId(), e.GetType(), body)
	}
	if cur := currentVersion(body); e.GetSchemaVersion() != cur {
		return fmt.Errorf("%w: rule event.schema_version: event %s (%s) has schema version %d, current is %d", ErrInvalidEvent, e.GetEventId(), body, e.GetSchemaVersion(), cur)
	}
	return nil
}

// MaxPersonIDLen is the longest person id a store accepts.
const MaxPersonIDLen = 128

// CheckPersonID checks that id can name a person in every store: 1 to
// [MaxPersonIDLen] characters from A-Z, a-z, 0-9, '-' and '_' (a UUID
// qualifies; NATS subject and key syntax is not). Every store call rejects
// another id with an error that wraps [ErrInvalidEvent] and names the rule
// person_id.format.
func CheckPersonID(id string) error {
	if id == "" || len(id) > MaxPersonIDLen {
		return fmt.Errorf("%w: rule person_id.format: person id %.140q must have 1 to %d characters", ErrInvalidEvent, id, MaxPersonIDLen)
	}
	for i := range len(id) {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return fmt.Errorf("%w: rule person_id.format: person id %q has %q at %d (allowed: A-Z a-z 0-9 - _)", ErrInvalidEvent, id, c, i)
		}
	}
	return nil
}

// CheckSnapshot checks that s has a valid person id and a version. The
// error wraps [ErrInvalidSnapshot] and names the rule.
func CheckSnapshot(s Snapshot) error {
	if err := CheckPersonID(s.PersonID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSnapshot, err)
	}
	if s.Version == 0 {
		return fmt.Errorf("%w: rule snapshot.version: snapshot of %s has version 0", ErrInvalidSnapshot, s.PersonID)
	}
	return nil
}

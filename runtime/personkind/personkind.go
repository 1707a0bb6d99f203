package personkind

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/actors/person"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
)

// Kind returns the person kind: person.Decide and person.Apply, event schema
// versions from upcast.CurrentVersion, snapshots as protobuf
// PersonSnapshot (person.SnapshotSchemaVersion) and the GetPerson query.
func Kind() grain.Kind[person.State] {
	return grain.Kind[person.State]{
		Name:          client.PersonKind,
		Decide:        person.Decide,
		Apply:         person.Apply,
		SchemaVersion: upcast.CurrentVersion,
		Snapshot: &grain.SnapshotCodec[person.State]{
			SchemaVersion: person.SnapshotSchemaVersion,
			Encode:        encode,
			Decode:        decode,
		},
		Query: query,
	}
}

// NewHost returns a host of person grains; see grain.NewHost.
func NewHost(cfg grain.Config) (*grain.Host[person.State], error) {
	return grain.NewHost(Kind(), cfg)
}

func encode(s person.State) ([]byte, error) {
	b, err := proto.Marshal(person.ToSnapshot(s))
	if err != nil {
		return nil, fmt.Errorf("encode person snapshot %s@%d: %w", s.ID(), s.Version(), err)
	}
	return b, nil
}

func decode(b []byte) (person.State, error) {
	var p personv1.PersonSnapshot
	if err := proto.Unmarshal(b, &p); err != nil {
		return person.State{}, fmt.Errorf("decode person snapshot: %w", err)
	}
	return person.FromSnapshot(&p)
}

// query answers *personv1.GetPerson with the person's snapshot (a deep copy:
// the reply shares nothing with the grain), or NOT_FOUND for a person that
// was never created.
func query(v grain.View[person.State], q proto.Message) (proto.Message, bool) {
	g, ok := q.(*personv1.GetPerson)
	if !ok {
		return nil, false
	}
	var e *personv1.Error
	switch {
	case g.GetPersonId() != "" && g.GetPersonId() != v.ID:
		e = personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "query.person_id", "query for %q reached person %q", g.GetPersonId(), v.ID)
	case !v.State.Exists():
		e = personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "person.exists", "person %s does not exist", v.ID)
	default:
		return &personv1.PersonReply{Reply: &personv1.PersonReply_Person{Person: person.ToSnapshot(v.State)}}, true
	}
	e.PersonId = v.ID
	return &personv1.PersonReply{Reply: &personv1.PersonReply_Error{Error: e}}, true
}

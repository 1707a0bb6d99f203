package onboardingkind

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/actors/onboarding"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
)

// Names of the onboarding event stream, its subject prefix and its
// snapshot bucket.
const (
	Stream         = "ONBOARDING_EVENTS"
	SubjectPrefix  = "onboarding.events"
	SnapshotBucket = "ONBOARDING_SNAPSHOTS"
)

// StoreConfig returns base with the onboarding stream, subject prefix and
// snapshot bucket; the other settings (replicas, payload, timeouts) are
// kept.
func StoreConfig(base pjs.Config) pjs.Config {
	base.Stream, base.SubjectPrefix, base.SnapshotBucket = Stream, SubjectPrefix, SnapshotBucket
	return base
}

// Kind returns the onboarding kind: onboarding.Decide and onboarding.Apply,
// event schema versions from upcast.CurrentVersion, snapshots as protobuf
// OnboardingSnapshot and the GetOnboarding query.
func Kind() grain.Kind[onboarding.State] {
	return grain.Kind[onboarding.State]{
		Name:          onboarding.KindName,
		Decide:        onboarding.Decide,
		Apply:         onboarding.Apply,
		SchemaVersion: upcast.CurrentVersion,
		Snapshot: &grain.SnapshotCodec[onboarding.State]{
			SchemaVersion: onboarding.SnapshotSchemaVersion,
			Encode:        encode,
			Decode:        decode,
		},
		Query: query,
	}
}

// NewHost returns a host of onboarding grains; see grain.NewHost. cfg.Events
// must be the onboarding store (StoreConfig).
func NewHost(cfg grain.Config) (*grain.Host[onboarding.State], error) {
	return grain.NewHost(Kind(), cfg)
}

func encode(s onboarding.State) ([]byte, error) {
	b, err := proto.Marshal(onboarding.ToSnapshot(s))
	if err != nil {
		return nil, fmt.Errorf("encode onboarding snapshot %s@%d: %w", s.ID(), s.Version(), err)
	}
	return b, nil
}

func decode(b []byte) (onboarding.State, error) {
	var p personv1.OnboardingSnapshot
	if err := proto.Unmarshal(b, &p); err != nil {
		return onboarding.State{}, fmt.Errorf("decode onboarding snapshot: %w", err)
	}
	return onboarding.FromSnapshot(&p)
}

// query answers *personv1.GetOnboarding with the workflow's snapshot (a
// deep copy), or NOT_FOUND for a workflow that was never started.
func query(v grain.View[onboarding.State], q proto.Message) (proto.Message, bool) {
	g, ok := q.(*personv1.GetOnboarding)
	if !ok {
		return nil, false
	}
	var e *personv1.Error
	switch {
	case g.GetPersonId() != "" && g.GetPersonId() != v.ID:
		e = personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "query.person_id", "query for %q reached onboarding %q", g.GetPersonId(), v.ID)
	case v.Version == 0:
		e = personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, onboarding.RuleNotStarted, "the onboarding of %s was not started", v.ID)
	default:
		return &personv1.OnboardingReply{Reply: &personv1.OnboardingReply_Onboarding{Onboarding: onboarding.ToSnapshot(v.State)}}, true
	}
	e.PersonId = v.ID
	return &personv1.OnboardingReply{Reply: &personv1.OnboardingReply_Error{Error: e}}, true
}

// Get returns the state of the onboarding of personID through c (any
// client of the cluster). Errors as for client.Ask; NOT_FOUND for a
// workflow that was never started.
func Get(ctx context.Context, c *client.Client, personID string) (*personv1.OnboardingSnapshot, error) {
	reply, err := c.Ask(ctx, onboarding.KindName, personID, &personv1.GetOnboarding{PersonId: personID})
	if err != nil {
		return nil, err
	}
	r, ok := reply.(*personv1.OnboardingReply)
	switch {
	case !ok:
		return nil, personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "reply.type", "unexpected reply %T from onboarding %q", reply, personID)
	case r.GetError() != nil:
		return nil, r.GetError()
	}
	return r.GetOnboarding(), nil
}

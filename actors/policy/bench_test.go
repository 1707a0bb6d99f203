package policy_test

import (
	"testing"

	"github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
)

// BenchmarkPolicyEvaluate runs every policy (Set.Evaluate) on one event of
// each common shape.
func BenchmarkPolicyEvaluate(b *testing.B) {
	set, err := policy.New(policy.Config{DefaultRegion: "US"})
	if err != nil {
		b.Fatal(err)
	}
	events := []struct {
		name string
		env  *personv1.EventEnvelope
	}{
		{"event=PersonCreated", env(1, &personv1.PersonCreated{PersonId: pid, Name: name("Ada", "Lovelace"), Contacts: []*personv1.Contact{email("c1", "ada@example.com", true), phone("c2", "+16502530000")}})},
		{"event=NameUpdated", env(2, &personv1.NameUpdated{OldName: name("Ada", "Lovelace"), NewName: name("Ada", "King")})},
		{"event=ContactAdded", env(3, &personv1.ContactAdded{Contact: email("c3", "ada.king@example.org", false)})},
		{"event=PersonMergedInto", env(4, &personv1.PersonMergedInto{TargetPersonId: target, Reason: personv1.MergeReason_MERGE_REASON_DUPLICATE_IDENTITY})},
		{"event=OnboardingCompleted", env(6, &personv1.OnboardingCompleted{Email: "ada@example.com", Phone: "+16502530000"})},
	}
	for _, e := range events {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				n += len(set.Evaluate(e.env, now))
			}
			if n == 0 {
				b.Fatal("no reactions")
			}
			b.ReportMetric(float64(n)/float64(b.N), "reactions/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/reaction")
		})
	}
	// One policy on the event it reacts to.
	for _, tc := range []struct{ policy, event string }{
		{policy.Onboarding, "event=PersonCreated"}, {policy.WelcomeNotification, "event=PersonCreated"},
		{policy.AutoArchive, "event=NameUpdated"}, {policy.MergeBookkeeping, "event=PersonMergedInto"},
	} {
		p, _ := set.Policy(tc.policy)
		var e *personv1.EventEnvelope
		for _, ev := range events {
			if ev.name == tc.event {
				e = ev.env
			}
		}
		b.Run("policy="+tc.policy+"/"+tc.event, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(p.Evaluate(e, now)) == 0 {
					b.Fatal("no reaction")
				}
			}
		})
	}
}

package onboardingkind_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	pjs "github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/node"
	"github.com/cim/personrt/runtime/onboardingkind"
)

func startNode(t *testing.T, store *pjs.Store) (*client.Client, func()) {
	t.Helper()
	h, err := onboardingkind.NewHost(grain.Config{Events: store, Snapshots: store, SnapshotEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Config{Kinds: []node.Kind{h}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 15*time.Second)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	c, err := client.New(n.Cluster(), client.Config{Kind: onboardingkind.Kind().Name})
	if err != nil {
		t.Fatal(err)
	}
	return c, stop
}

// The onboarding kind runs on the grain shell over its own stream: events
// on onboarding.events.<id>, snapshots, the GetOnboarding query, and its
// state back after a restart.
func TestOnboardingGrain(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	ctx := t.Context()
	store, err := pjs.Open(ctx, nc, onboardingkind.StoreConfig(pjs.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	c, stop := startNode(t, store)
	id := "0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6"
	if _, err := onboardingkind.Get(ctx, c, id); !errors.Is(err, personv1.ErrNotFound) {
		t.Errorf("get before start: err = %v, want NOT_FOUND", err)
	}
	for _, cmd := range []*personv1.Command{
		{PersonId: id, Body: &personv1.Command_StartOnboarding{StartOnboarding: &personv1.StartOnboarding{}}},
		{PersonId: id, Body: &personv1.Command_VerifyIdentity{VerifyIdentity: &personv1.VerifyIdentity{IdentityId: "passport-1"}}},
		{PersonId: id, Body: &personv1.Command_ProvideBasicInfo{ProvideBasicInfo: &personv1.ProvideBasicInfo{Email: "ada@example.com", Phone: "+16502530000"}}},
	} {
		if _, err := c.Execute(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Execute(ctx, &personv1.Command{PersonId: id, Body: &personv1.Command_CreatePerson{CreatePerson: &personv1.CreatePerson{}}}); !errors.Is(err, personv1.ErrUnimplemented) {
		t.Errorf("person command to an onboarding: err = %v, want UNIMPLEMENTED", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, onboardingkind.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if last, err := st.GetLastMsgForSubject(ctx, onboardingkind.SubjectPrefix+"."+id); err != nil || last.Header.Get("Cim-Event-Type") != "BasicInfoProvided" {
		t.Errorf("last stored event = %v, %v", last, err)
	}

	stop()
	c2, _ := startNode(t, store)
	o, err := onboardingkind.Get(ctx, c2, id)
	if err != nil {
		t.Fatal(err)
	}
	if o.GetState() != personv1.OnboardingState_ONBOARDING_STATE_SETTING_UP_COMPONENTS || o.GetVersion() != 3 || o.GetIdentityId() != "passport-1" || o.GetEmail() != "ada@example.com" {
		t.Errorf("after restart: %v", o)
	}
	if snap, err := store.LoadSnapshot(ctx, id); err != nil || snap.Version != 2 {
		t.Errorf("snapshot = %+v, %v; want version 2", snap, err)
	}
}

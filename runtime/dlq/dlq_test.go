package dlq_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/dlq"
)

func open(t *testing.T) *dlq.DLQ {
	t.Helper()
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	d, err := dlq.Open(t.Context(), nc, dlq.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func letter(policy, person string, streamSeq uint64) *personv1.DeadLetter {
	return &personv1.DeadLetter{
		Policy: policy, PersonId: person, EventId: "e-" + strconv.FormatUint(streamSeq, 10), Stream: "PERSON_EVENTS", StreamSequence: streamSeq,
		Subject: "person.events." + person, Code: personv1.ErrorCode_ERROR_CODE_NOT_FOUND, Rule: "contact.not_found", Message: "no contact",
		Attempts: 1, FirstFailure: timestamppb.Now(), LastFailure: timestamppb.Now(), Version: streamSeq,
	}
}

func TestParkListHeadRemove(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	var seqs []uint64
	for _, l := range []*personv1.DeadLetter{
		letter("welcome", "p1", 9), // parked first, but its event came later
		letter("welcome", "p1", 4),
		letter("welcome", "p2", 5),
		letter("data-quality", "p1", 6),
	} {
		s, err := d.Park(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	tests := []struct {
		name string
		f    dlq.Filter
		want []uint64
	}{
		{"all", dlq.Filter{}, seqs},
		{"policy", dlq.Filter{Policy: "welcome"}, seqs[:3]},
		{"policy and person", dlq.Filter{Policy: "welcome", PersonID: "p1"}, seqs[:2]},
		{"person", dlq.Filter{PersonID: "p1"}, []uint64{seqs[0], seqs[1], seqs[3]}},
		{"limit", dlq.Filter{Limit: 1}, seqs[:1]},
	}
	for _, tc := range tests {
		got, err := d.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var gotSeqs []uint64
		for _, e := range got {
			gotSeqs = append(gotSeqs, e.Sequence)
		}
		if !slices.Equal(gotSeqs, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, gotSeqs, tc.want)
		}
	}
	// The head is the entry whose event came first.
	head, ok, err := d.Head(ctx, "welcome", "p1")
	if err != nil || !ok || head.Sequence != seqs[1] || head.Letter.GetStreamSequence() != 4 {
		t.Errorf("head = %v, %v, %v; want entry %d", head, ok, err, seqs[1])
	}
	if _, ok, err := d.Head(ctx, "welcome", "nobody"); ok || err != nil {
		t.Errorf("head of nobody = %v, %v", ok, err)
	}
	parked, err := d.Parked(ctx, "welcome")
	if err != nil || parked["p1"] != 2 || parked["p2"] != 1 || len(parked) != 2 {
		t.Errorf("parked = %v, %v", parked, err)
	}
	got, err := d.Get(ctx, seqs[2])
	if err != nil || got.Letter.GetPersonId() != "p2" || got.Letter.GetRule() != "contact.not_found" {
		t.Errorf("get = %v, %v", got, err)
	}
	if err := d.Remove(ctx, seqs[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, seqs[1]); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("get removed: err = %v", err)
	}
	if err := d.Remove(ctx, seqs[1]); !errors.Is(err, dlq.ErrNotFound) {
		t.Errorf("remove twice: err = %v", err)
	}
	if head, _, _ := d.Head(ctx, "welcome", "p1"); head.Sequence != seqs[0] {
		t.Errorf("head after removal = %d, want %d", head.Sequence, seqs[0])
	}
}

func TestParkRejects(t *testing.T) {
	d := open(t)
	for _, l := range []*personv1.DeadLetter{
		{Policy: "", PersonId: "p"},
		{Policy: "a.b", PersonId: "p"},
		{Policy: "p", PersonId: ""},
		{Policy: "p", PersonId: "a b"},
		{Policy: "p", PersonId: "a.*"},
	} {
		if _, err := d.Park(t.Context(), l); !errors.Is(err, dlq.ErrInvalidEntry) {
			t.Errorf("park %v: err = %v, want ErrInvalidEntry", l, err)
		}
	}
}

func TestReplayWithoutRunner(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	seq, err := d.Park(ctx, letter("welcome", "p1", 3))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Replay(ctx, seq); !errors.Is(err, personv1.ErrUnavailable) || personv1.AsError(err, "").GetRule() != dlq.RuleNoRunner {
		t.Errorf("replay without runner: err = %v, want UNAVAILABLE [%s]", err, dlq.RuleNoRunner)
	}
	if err := d.Replay(ctx, seq+100); !errors.Is(err, personv1.ErrNotFound) {
		t.Errorf("replay of a missing entry: err = %v, want NOT_FOUND", err)
	}
	// A runner that answers: the handler's error comes back coded.
	stop, err := d.ServeReplay(ctx, "welcome", func(_ context.Context, s uint64) error {
		if s != seq {
			return personv1.Reject(personv1.ErrorCode_ERROR_CODE_NOT_FOUND, "x", "wrong")
		}
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_FAILED_PRECONDITION, "lifecycle.terminal", "person is Archived")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	if err := d.Replay(ctx, seq); !errors.Is(err, personv1.ErrFailedPrecondition) || personv1.AsError(err, "").GetRule() != "lifecycle.terminal" {
		t.Errorf("replay: err = %v, want the handler's FAILED_PRECONDITION", err)
	}
}

func TestCommandUsage(t *testing.T) {
	d := open(t)
	ctx := t.Context()
	seq, err := d.Park(ctx, letter("welcome", "p1", 3))
	if err != nil {
		t.Fatal(err)
	}
	s := strconv.FormatUint(seq, 10)
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{nil, 2, ""},
		{[]string{"frobnicate"}, 2, ""},
		{[]string{"help"}, 0, "usage: dlq"},
		{[]string{"list"}, 0, "contact.not_found"},
		{[]string{"list", "-json", "-policy", "welcome"}, 0, `"sequence":` + s},
		{[]string{"list", "-bogus"}, 2, ""},
		{[]string{"show"}, 2, ""},
		{[]string{"show", s}, 0, `"policy": "welcome"`},
		{[]string{"show", "0"}, 2, ""},
		{[]string{"replay", s}, 1, ""},
		{[]string{"discard", s}, 0, "discarded " + s},
		{[]string{"discard", s}, 1, ""},
	}
	for _, tc := range tests {
		var out, errOut bytes.Buffer
		code := dlq.Command(ctx, d, tc.args, &out, &errOut)
		if code != tc.wantCode || !strings.Contains(strings.ReplaceAll(out.String(), "  ", " "), tc.wantOut) {
			t.Errorf("dlq %v: exit %d, out %q, err %q; want exit %d with %q", tc.args, code, out.String(), errOut.String(), tc.wantCode, tc.wantOut)
		}
	}
}

func TestConfig(t *testing.T) {
	_, nc := natstest.Connect(t, natstest.WithSyncInterval())
	for _, cfg := range []dlq.Config{
		{Stream: "A.B"},
		{SubjectPrefix: "a.>"},
		{ReplaySubject: "person.dlq.replay"},
		{Replicas: 9},
	} {
		if _, err := dlq.Open(t.Context(), nc, cfg); !errors.Is(err, dlq.ErrInvalidConfig) {
			t.Errorf("%+v: err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

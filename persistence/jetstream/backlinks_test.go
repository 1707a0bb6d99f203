package jetstream_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/persistence/jetstream"
	"github.com/cim/personrt/persistence/storetest"
)

// TestBacklinksInterleaved: persons whose events interleave with others'
// load correctly from every version through the backlinks (single events
// and atomic batches, tails longer than the backlinks), with no fallback.
func TestBacklinksInterleaved(t *testing.T) {
	s, nc := open(t, jetstream.Config{Backlinks: 3, Logger: failOnWarn(t)}, natstest.WithSyncInterval())
	persons := []string{storetest.NewPersonID(), storetest.NewPersonID(), storetest.NewPersonID()}
	versions := make([]uint64, len(persons))
	for i := range 60 {
		k := i % len(persons)
		n := 1 + i%4%3 // 1, 2, 3, 1, …
		v, err := s.Append(t.Context(), persons[k], versions[k], storetest.Events(persons[k], versions[k]+1, n))
		if err != nil {
			t.Fatal(err)
		}
		versions[k] = v
	}
	for k, p := range persons {
		// A store with an empty cache reads everything through the links.
		fresh, _ := openOn(t, nc, jetstream.Config{Backlinks: 3, Logger: failOnWarn(t)})
		for from := uint64(0); from <= versions[k]+1; from += 3 {
			got, err := loadAll(t, fresh, p, from)
			if err != nil {
				t.Fatal(err)
			}
			first := max(from, 1)
			if want := versions[k] - min(versions[k], first-1); uint64(len(got)) != want {
				t.Fatalf("%s from %d: loaded %v, want %d events", p, from, versionsOf(got), want)
			}
			for i, e := range got {
				if e.GetVersion() != first+uint64(i) || e.GetPersonId() != p {
					t.Fatalf("%s from %d: event %d is %s v%d", p, from, i, e.GetPersonId(), e.GetVersion())
				}
			}
		}
	}
}

// TestBrokenBacklinksFallBack: backlinks that point at another person's
// event are detected, whether Load meets them while hopping or in the
// middle of a window of pipelined gets; Load then scans instead, returns
// the right events and warns.
func TestBrokenBacklinksFallBack(t *testing.T) {
	tests := []struct {
		name string
		// prevSeqs returns the Cim-Prev-Seqs of p's hand-stored last event,
		// given the stream sequences of p's events and q's event.
		prevSeqs func(p []uint64, q uint64) []uint64
	}{
		{"hop to another person", func(_ []uint64, q uint64) []uint64 { return []uint64{q} }},
		{"mid-window", func(p []uint64, q uint64) []uint64 {
			return []uint64{p[4], p[3], p[2], q, p[0]} // version 2 is q's event
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var warned atomic.Int32
			logger := slog.New(countWarn{&warned})
			s, nc := open(t, jetstream.Config{Logger: logger}, natstest.WithSyncInterval())
			p, q := storetest.NewPersonID(), storetest.NewPersonID()
			// Stream sequences: p v1 = 1, q = 2, p v2..v5 = 3..6.
			if _, err := s.Append(t.Context(), p, 0, storetest.Events(p, 1, 1)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(t.Context(), q, 0, storetest.Events(q, 1, 1)); err != nil {
				t.Fatal(err)
			}
			seqs := []uint64{1}
			for v := range uint64(4) {
				if _, err := s.Append(t.Context(), p, v+1, storetest.Events(p, v+2, 1)); err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, v+3)
			}
			prev := tc.prevSeqs(seqs, 2)
			header := fmt.Sprint(prev[0])
			for k := 1; k < len(prev); k++ {
				header += fmt.Sprintf(",%d", int64(prev[k-1])-int64(prev[k]))
			}
			good := storetest.Events(p, 6, 1)[0]
			m := &nats.Msg{Subject: "person.events." + p, Header: nats.Header{
				"Nats-Msg-Id": {good.GetEventId()}, "Cim-Event-Type": {"PersonArchived"}, "Cim-Schema-Version": {"1"},
				"Cim-Person-Id": {p}, "Cim-Person-Version": {"6"}, "Cim-Prev-Seqs": {header},
			}, Data: []byte(`{"reason":"x"}`)}
			if err := publishAndWait(t, nc, m); err != nil {
				t.Fatal(err)
			}
			fresh, _ := openOn(t, nc, jetstream.Config{Logger: logger})
			for _, from := range []uint64{0, 2} {
				got, err := loadAll(t, fresh, p, from)
				if err != nil {
					t.Fatalf("from %d: %v", from, err)
				}
				want := "[1 2 3 4 5 6]"
				if from == 2 {
					want = "[2 3 4 5 6]"
				}
				if fmt.Sprint(versionsOf(got)) != want {
					t.Fatalf("from %d: loaded versions %v, want %s", from, versionsOf(got), want)
				}
			}
			if warned.Load() == 0 {
				t.Fatal("broken backlinks were not reported")
			}
		})
	}
}

type countWarn struct{ n *atomic.Int32 }

func (h countWarn) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countWarn) Handle(context.Context, slog.Record) error    { h.n.Add(1); return nil }
func (h countWarn) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h countWarn) WithGroup(string) slog.Handler                { return h }

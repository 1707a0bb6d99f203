package jetstream

import (
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence/storetest"
)

// BenchmarkAppend measures one single-event Append against an embedded
// server (fsync interval, so that the client path shows), next to a raw
// publish of the same message; bench/ has the end-to-end figures.
func BenchmarkAppend(b *testing.B) {
	const persons = 100
	for _, payload := range []string{PayloadJSON, PayloadProtobuf} {
		b.Run("payload="+payload, func(b *testing.B) {
			_, nc := natstest.Connect(b, natstest.WithSyncInterval())
			s, err := Open(b.Context(), nc, Config{Payload: payload})
			if err != nil {
				b.Fatal(err)
			}
			ids, events := benchEvents(b.N, persons)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i % persons
				e := events[i]
				if _, err := s.Append(b.Context(), ids[k], e.GetVersion()-1, []*personv1.EventEnvelope{e}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("raw", func(b *testing.B) {
		_, nc := natstest.Connect(b, natstest.WithSyncInterval())
		s, err := Open(b.Context(), nc, Config{})
		if err != nil {
			b.Fatal(err)
		}
		ids, events := benchEvents(b.N, persons)
		m0, err := encodeEvent("x", events[0], []uint64{1}, 0, false)
		if err != nil {
			b.Fatal(err)
		}
		seqs := make([]uint64, persons)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			k := i % persons
			h := make(nats.Header, len(m0.Header)+1)
			for key, v := range m0.Header {
				h[key] = v
			}
			h[hdrMsgID] = []string{events[i].GetEventId()}
			h[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(seqs[k], 10)}
			ack, err := s.js.PublishMsg(b.Context(), &nats.Msg{Subject: "person.events." + ids[k], Header: h, Data: m0.Data})
			if err != nil {
				b.Fatal(err)
			}
			seqs[k] = ack.Sequence
		}
	})
}

// benchEvents returns n events spread round-robin over persons.
func benchEvents(n, persons int) ([]string, []*personv1.EventEnvelope) {
	ids := make([]string, persons)
	for i := range ids {
		ids[i] = storetest.NewPersonID()
	}
	events := make([]*personv1.EventEnvelope, n)
	for i := range events {
		events[i] = storetest.NewEvent(ids[i%persons], uint64(i/persons)+1, storetest.Body(ids[i%persons], 1))
	}
	return ids, events
}

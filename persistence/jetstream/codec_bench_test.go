package jetstream

import (
	"testing"

	"github.com/cim/personrt/persistence/storetest"
)

// BenchmarkEncodeEvent measures what Append adds per event before the
// publish: protojson of the body and the headers.
func BenchmarkEncodeEvent(b *testing.B) {
	p := storetest.NewPersonID()
	e := storetest.Events(p, 1, 2)[1] // a NameUpdated
	prev := []uint64{123456, 120000, 99999, 5000}
	for _, binary := range []bool{false, true} {
		b.Run(payloadName(binary), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := encodeEvent("person.events."+p, e, prev, 0, binary); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func payloadName(binary bool) string {
	if binary {
		return "payload=protobuf"
	}
	return "payload=json"
}

// BenchmarkDecodeEvent measures what Load adds per event after the fetch:
// header parsing and protojson of the body at the current schema.
func BenchmarkDecodeEvent(b *testing.B) {
	p := storetest.NewPersonID()
	e := storetest.Events(p, 1, 2)[1]
	for _, binary := range []bool{false, true} {
		m, err := encodeEvent("person.events."+p, e, []uint64{123456, 120000}, 0, binary)
		if err != nil {
			b.Fatal(err)
		}
		st := stored{seq: 130000, header: m.Header, data: m.Data}
		b.Run(payloadName(binary), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeEvent(p, st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package migrate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	pjs "github.com/cim/personrt/persistence/jetstream"
)

// BenchmarkDecode measures what a migration does per event on its
// decoding goroutines: decode (upcast) a source message and prepare its
// message in the new stream, for every stored shape of the fixtures.
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"legacy/envelope", "legacy/flat", "legacy/streaming", "system/schema-v1"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			b.Fatal(err)
		}
		var fx struct {
			Messages []struct {
				Subject string              `json:"subject"`
				Headers map[string][]string `json:"headers"`
				Data    json.RawMessage     `json:"data"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(raw, &fx); err != nil {
			b.Fatal(err)
		}
		msgs := make([]sourceMsg, len(fx.Messages))
		for i, m := range fx.Messages {
			subject := "person.events.0190f0d2-7a1b-7c3d-8e4f-a1b2c3d4e5f6"
			if m.Subject != "" {
				subject += "." + m.Subject
			}
			msgs[i] = sourceMsg{seq: uint64(i + 1), subject: subject, header: nats.Header(m.Headers), data: m.Data}
		}
		cfg := Config{Store: pjs.Config{Payload: pjs.PayloadJSON}}
		c := &copier{cfg: &cfg, prefix: "person_events_v2."}
		decode := c.decode("person.events")
		b.Run("shape="+strings.ReplaceAll(name, "/", "-"), func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if d := decode(msgs[n%len(msgs)]); d.kind != kindEvent {
					b.Fatal(d.err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

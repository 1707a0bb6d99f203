package grain

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestNewEventID(t *testing.T) {
	now := time.UnixMilli(1_764_000_000_123).Add(456 * time.Microsecond)
	seen := make(map[string]bool)
	for range 10_000 {
		s := newEventID(now)
		u, err := uuid.Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if u.String() != s {
			t.Fatalf("%q is not canonical (%s)", s, u)
		}
		if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("%s: version %d, variant %v; want 7, RFC4122", s, u.Version(), u.Variant())
		}
		if sec, nsec := u.Time().UnixTime(); time.Unix(sec, nsec).UnixMilli() != now.UnixMilli() {
			t.Fatalf("%s: time %v, want %v", s, time.Unix(sec, nsec), now.Truncate(time.Millisecond))
		}
		if seen[s] {
			t.Fatalf("%s generated twice", s)
		}
		seen[s] = true
	}
}

func BenchmarkNewEventID(b *testing.B) {
	now := time.Now()
	b.Run("shell", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = newEventID(now)
		}
	})
	b.Run("google-uuid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = uuid.Must(uuid.NewV7()).String()
		}
	})
}

package grain

import (
	"errors"
	"testing"
	"time"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence/memstore"
)

func TestIdempotencyWindowConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		want    int
		wantErr error
	}{
		{name: "default", want: DefaultIdempotencyWindow},
		{name: "set", cfg: Config{IdempotencyWindow: 8}, want: 8},
		{name: "the former name still works", cfg: Config{ResultCacheSize: 16}, want: 16},
		{name: "the new name wins", cfg: Config{IdempotencyWindow: 8, ResultCacheSize: 16}, want: 8},
		{name: "largest", cfg: Config{IdempotencyWindow: MaxIdempotencyWindow}, want: MaxIdempotencyWindow},
		{name: "too large", cfg: Config{IdempotencyWindow: MaxIdempotencyWindow + 1}, wantErr: ErrInvalidConfig},
		{name: "negative", cfg: Config{IdempotencyWindow: -1}, wantErr: ErrInvalidConfig},
		{name: "negative former name", cfg: Config{ResultCacheSize: -1}, wantErr: ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Events = memstore.New()
			err := cfg.validate()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := cfg.IdempotencyWindow; err == nil && got != tc.want {
				t.Errorf("window = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestKindSnapshotSchemaVersionBound(t *testing.T) {
	tests := []struct {
		name    string
		version uint32
		wantErr error
	}{
		{"largest", maxKindSchema, nil},
		{"top byte taken by the envelope", maxKindSchema + 1, ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := Kind[int]{
				Name:          "k",
				Decide:        func(int, *personv1.Command, time.Time) ([]*personv1.Event, error) { return nil, nil },
				Apply:         func(s int, _ *personv1.EventEnvelope) int { return s },
				SchemaVersion: func(string) uint32 { return 1 },
				Snapshot: &SnapshotCodec[int]{
					SchemaVersion: tc.version,
					Encode:        func(int) ([]byte, error) { return nil, nil },
					Decode:        func([]byte) (int, error) { return 0, nil },
				},
			}
			if _, err := NewHost(k, Config{Events: memstore.New()}); !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

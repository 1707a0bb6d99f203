package jetstream

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr error
	}{
		{"zero value", Config{}, nil},
		{"other kind", Config{Stream: "ONBOARDING_EVENTS", SubjectPrefix: "onboarding.events", SnapshotBucket: "ONBOARDING_SNAPSHOTS", Replicas: 3}, nil},
		{"backlinks off", Config{Backlinks: -1}, nil},
		{"stream with a dot", Config{Stream: "PERSON.EVENTS"}, ErrInvalidConfig},
		{"bucket with a space", Config{SnapshotBucket: "A B"}, ErrInvalidConfig},
		{"prefix with a wildcard", Config{SubjectPrefix: "person.*"}, ErrInvalidConfig},
		{"prefix ending in a dot", Config{SubjectPrefix: "person."}, ErrInvalidConfig},
		{"prefix with an empty token", Config{SubjectPrefix: "person..events"}, ErrInvalidConfig},
		{"replicas", Config{Replicas: 7}, ErrInvalidConfig},
		{"negative replicas", Config{Replicas: -1}, ErrInvalidConfig},
		{"tiny duplicate window", Config{Duplicates: time.Millisecond}, ErrInvalidConfig},
		{"negative cache", Config{CacheSize: -1}, ErrInvalidConfig},
		{"backlinks", Config{Backlinks: -2}, ErrInvalidConfig},
		{"read batch", Config{ReadBatch: 20_000}, ErrInvalidConfig},
		{"negative timeout", Config{RequestTimeout: -time.Second}, ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			err := cfg.validate()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("validate() = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			again := cfg
			if err := again.validate(); err != nil || again.Stream != cfg.Stream || again.Backlinks != cfg.Backlinks || again.CacheSize != cfg.CacheSize {
				t.Fatalf("validate is not idempotent: %+v then %+v (%v)", cfg, again, err)
			}
		})
	}
	var cfg Config
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Stream != "PERSON_EVENTS" || cfg.SubjectPrefix != "person.events" || cfg.SnapshotBucket != "PERSON_SNAPSHOTS" ||
		cfg.Replicas != 1 || cfg.Duplicates != 2*time.Minute || cfg.Backlinks != 16 || cfg.backlinks() != 16 {
		t.Fatalf("defaults: %+v", cfg)
	}
	off := Config{Backlinks: -1}
	if err := off.validate(); err != nil || off.backlinks() != 0 {
		t.Fatalf("Backlinks -1: %v, backlinks() = %d", err, off.backlinks())
	}
	sc := streamConfig(cfg)
	if sc.MaxAge != 0 || sc.MaxBytes != -1 || sc.Discard.String() != "DiscardNew" || !sc.AllowDirect || !sc.AllowAtomicPublish || sc.Duplicates != 2*time.Minute {
		t.Fatalf("stream config: %+v", sc)
	}
}

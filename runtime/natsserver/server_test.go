package natsserver_test

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/internal/natstest"
	"github.com/cim/personrt/runtime/natsserver"
)

func TestStartServesJetStream(t *testing.T) {
	_, nc := natstest.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.AccountInfo(t.Context())
	if err != nil {
		t.Fatalf("account info: %v", err)
	}
	if info.Limits.MaxStore == 0 && info.Limits.MaxMemory == 0 {
		t.Logf("limits: %+v", info.Limits)
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  natsserver.Config
	}{
		{"no store dir", natsserver.Config{}},
		{"bad sync", natsserver.Config{StoreDir: t.TempDir(), Sync: "sometimes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := natsserver.Start(tc.cfg)
			if !errors.Is(err, natsserver.ErrInvalidConfig) {
				t.Fatalf("got %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestInProcess(t *testing.T) {
	srv, err := natsserver.Start(natsserver.Config{StoreDir: t.TempDir(), DontListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Error(err)
		}
	}()
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

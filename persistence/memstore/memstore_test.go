package memstore_test

import (
	"testing"

	"github.com/cim/personrt/persistence/memstore"
	"github.com/cim/personrt/persistence/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		s := memstore.New()
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		return storetest.Stores{Events: s, Snapshots: s}
	})
}

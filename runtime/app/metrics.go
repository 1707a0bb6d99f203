package app

import (
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/gateway"
	"github.com/cim/personrt/runtime/grain"
	"github.com/cim/personrt/runtime/metrics"
	"github.com/cim/personrt/runtime/policy"
)

// latencyBuckets are the upper bounds in seconds of the latency histograms.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// nodeMetrics turns lifecycle events and gateway outcomes into series.
type nodeMetrics struct {
	reg *metrics.Registry

	activations, passivations, conflicts, hydrationFailures *metrics.Vec[metrics.Counter]
	commands, panics, snapshots                             *metrics.Vec[metrics.Counter]
	commandSeconds                                          *metrics.Vec[metrics.Histogram]
	active                                                  atomic.Int64

	requests       *metrics.Vec[metrics.Counter]
	requestSeconds *metrics.Vec[metrics.Histogram]

	policyHandled, policyRetried, policyParked, policyRestarts *metrics.Vec[metrics.Counter]
}

func newNodeMetrics(ready func() bool, inFlight func() int) *nodeMetrics {
	reg := metrics.NewRegistry()
	m := &nodeMetrics{
		reg:               reg,
		activations:       reg.CounterVec("personrt_grain_activations_total", "Grain activations that finished hydrating.", "kind"),
		passivations:      reg.CounterVec("personrt_grain_passivations_total", "Grains stopped (idle, rebalanced or shut down).", "kind"),
		commands:          reg.CounterVec("personrt_grain_commands_total", "Commands handled by grains, by outcome code.", "kind", "code"),
		commandSeconds:    reg.HistogramVec("personrt_grain_command_duration_seconds", "Time from a command reaching its grain to its reply.", latencyBuckets, "kind"),
		conflicts:         reg.CounterVec("personrt_grain_conflicts_total", "Appends lost to another writer and decided again.", "kind"),
		panics:            reg.CounterVec("personrt_grain_panics_total", "Panics in a kind's code (answered INTERNAL).", "kind", "phase"),
		hydrationFailures: reg.CounterVec("personrt_grain_hydration_failures_total", "Activations or catch-ups that could not read the store.", "kind"),
		snapshots:         reg.CounterVec("personrt_grain_snapshots_total", "Snapshots written or dropped.", "kind", "result"),
		requests:          reg.CounterVec("personrt_gateway_requests_total", "NATS gateway requests, by kind and outcome code.", "kind", "code"),
		requestSeconds:    reg.HistogramVec("personrt_gateway_request_duration_seconds", "Time the gateway took to answer a request.", latencyBuckets, "kind"),
		policyHandled:     reg.CounterVec("personrt_policy_events_handled_total", "Events whose reactions were carried out and acked.", "policy"),
		policyRetried:     reg.CounterVec("personrt_policy_retries_total", "Events nak'ed for a later retry after a transient failure.", "policy"),
		policyParked:      reg.CounterVec("personrt_policy_parked_total", "Events parked in PERSON_DLQ, by code.", "policy", "code"),
		policyRestarts:    reg.CounterVec("personrt_policy_restarts_total", "Policy workers restarted (or escalated) by their supervisor.", "policy", "outcome"),
	}
	reg.GaugeFunc("personrt_grain_active", "Grains active on this node (activations minus passivations; a grain that never hydrated counts -1 when it stops).", func() float64 { return float64(m.active.Load()) })
	reg.GaugeFunc("personrt_gateway_in_flight", "Gateway requests being handled.", func() float64 { return float64(inFlight()) })
	reg.GaugeFunc("personrt_ready", "1 when the node serves, 0 while starting or draining.", func() float64 {
		if ready() {
			return 1
		}
		return 0
	})
	reg.GaugeFunc("go_goroutines", "Goroutines that currently exist.", func() float64 { return float64(runtime.NumGoroutine()) })
	reg.GaugeFunc("go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", func() float64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc)
	})
	return m
}

// codeLabel is the label value of an outcome: "OK" or the code's name
// without its prefix ("NOT_FOUND").
func codeLabel(c personv1.ErrorCode) string {
	if c == personv1.ErrorCode_ERROR_CODE_UNSPECIFIED {
		return "OK"
	}
	return strings.TrimPrefix(c.String(), "ERROR_CODE_")
}

// observeGrain is the grain hosts' Observer.
func (m *nodeMetrics) observeGrain(e grain.LifecycleEvent) {
	switch e := e.(type) {
	case grain.Activated:
		if !e.Restart {
			m.activations.With(e.Kind).Inc()
			m.active.Add(1)
		}
	case grain.Passivated:
		m.passivations.With(e.Kind).Inc()
		m.active.Add(-1)
	case grain.CommandHandled:
		m.commands.With(e.Kind, codeLabel(e.Code)).Inc()
		m.commandSeconds.With(e.Kind).Observe(e.Took.Seconds())
	case grain.ConflictRetried:
		m.conflicts.With(e.Kind).Inc()
	case grain.Panicked:
		m.panics.With(e.Kind, e.Phase).Inc()
	case grain.HydrationFailed:
		m.hydrationFailures.With(e.Kind).Inc()
	case grain.SnapshotSaved:
		m.snapshots.With(e.Kind, "saved").Inc()
	case grain.SnapshotFailed:
		m.snapshots.With(e.Kind, "failed").Inc()
	}
}

// observePolicy is the policy runner's Observer.
func (m *nodeMetrics) observePolicy(e policy.Event) {
	switch e := e.(type) {
	case policy.Handled:
		m.policyHandled.With(e.Worker).Inc()
	case policy.Retried:
		m.policyRetried.With(e.Worker).Inc()
	case policy.Parked:
		m.policyParked.With(e.Worker, codeLabel(e.Code)).Inc()
	case policy.Restarted:
		m.policyRestarts.With(e.Worker, "restarted").Inc()
	case policy.Escalated:
		m.policyRestarts.With(e.Worker, "escalated").Inc()
	}
}

// observeGateway is the gateway's Observer.
func (m *nodeMetrics) observeGateway(h gateway.Handled) {
	m.requests.With(h.Kind, codeLabel(h.Code)).Inc()
	m.requestSeconds.With(h.Kind).Observe(h.Took.Seconds())
}

// Package metrics is a tiny metrics registry that writes the Prometheus
// text exposition format (version 0.0.4): counters, gauges read from a
// function at scrape time, and histograms with fixed buckets, each with
// optional labels. No globals: the owner creates a [Registry], registers
// its metrics and serves it ([Registry.ServeHTTP]).
//
// # Why not client_golang
//
// The node needs a dozen series fed from typed lifecycle events, and
// prometheus/client_golang would become a direct dependency with its
// global default registry. This package covers exactly what the node
// exports in a few hundred lines.
//
// # Concurrency
//
// Every method is safe for concurrent use. Updating a metric is lock-free
// (atomics); a [Vec] takes its mutex only to look up or create a series,
// and the registry's mutex guards only its list of families. Gauge
// functions run during a scrape, outside every lock but the scrape's own
// serialisation.
//
// Registering two metrics with one name, or a name or label that is not a
// valid Prometheus identifier, is a programming error and panics.
package metrics

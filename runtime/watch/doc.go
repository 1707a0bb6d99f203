// Package watch follows the events of one person as they are stored: first
// the stored events from a version, then the live ones, in version order,
// without gaps or repeats.
//
// # How
//
// A Watch creates an ordered JetStream consumer (headers only, deliver-new)
// filtered to the person's subject before it reads anything, so no event
// stored meanwhile is missed; every message it delivers only signals "read
// again". Events are read and decoded (upcast) through the event store's
// Load from the next expected version, so the watcher shares the store's
// codec and never decodes stream messages itself. When Watch returns, the
// consumer is stopped and deleted; a consumer left behind by a crashed
// process is removed by the server after Config.InactiveThreshold.
package watch

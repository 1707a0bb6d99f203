// Package ctl is personctl: the command-line client of a Person runtime
// node. It talks to any node through the NATS command gateway
// (runtime/gateway): commands go to person.commands.<id>, reads to
// person.queries.<id> and person.history.<id>.
//
// [Run] takes the arguments and output streams and returns the exit code
// (see [ExitOK] and its siblings), so main stays a single line and tests
// run personctl in-process.
//
// # History and watch
//
// history reads the stored events through the gateway's history subject,
// page by page, decoded and upcast by the node. watch prints the stored
// events from a version on and then every new one as it is stored: it
// uses runtime/watch, whose headers-only ordered consumer on the event
// stream only signals "something was stored", and reads the events
// through the same history subject. The consumer is deleted when watch
// ends (Ctrl-C); one left behind by a killed personctl expires on the
// server after 30 s.
package ctl

package upcast

import (
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cim/personrt/messages/personv1"
)

// currentVersions are the schema versions of the event bodies in
// messages/personv1 that are not at schema 1. A type's version rises by one
// with every change of its stored shape, and each step gets an upcaster.
var currentVersions = map[string]uint32{
	"PersonCreated": 3, // 1: created_at; 2: metadata object; 3: protobuf PersonCreated
	"NameUpdated":   2, // 1: reason and flat names; 2: protobuf NameUpdated
}

// bodies maps each event type (the message name of a case of the
// person.v1.Event body oneof) to its field in that oneof.
var bodies = sync.OnceValue(func() map[string]protoreflect.FieldDescriptor {
	fields := (&personv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("body").Fields()
	m := make(map[string]protoreflect.FieldDescriptor, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		m[string(fd.Message().Name())] = fd
	}
	return m
})

// CurrentVersion returns the current schema version of an event type (the
// message name of an Event body, e.g. "NameUpdated"), or 0 for a type that
// is not an Event body. Writers stamp EventEnvelope.schema_version with it.
func CurrentVersion(eventType string) uint32 {
	if _, ok := bodies()[eventType]; !ok {
		return 0
	}
	if v, ok := currentVersions[eventType]; ok {
		return v
	}
	return 1
}

// Types returns the event types known to the registry, in oneof order.
func Types() []string {
	fields := (&personv1.Event{}).ProtoReflect().Descriptor().Oneofs().ByName("body").Fields()
	out := make([]string, fields.Len())
	for i := range fields.Len() {
		out[i] = string(fields.Get(i).Message().Name())
	}
	return out
}

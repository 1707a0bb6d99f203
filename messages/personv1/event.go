package personv1

import "google.golang.org/protobuf/reflect/protoreflect"

// TypeName returns the event type stored with an event: the message name of
// its body ("PersonCreated"), or "" when no body is set.
func (x *Event) TypeName() string {
	if x == nil {
		return ""
	}
	return bodyName(x.ProtoReflect())
}

// TypeName returns the command type: the message name of its body
// ("UpdateName"), or "" when no body is set.
func (x *Command) TypeName() string {
	if x == nil {
		return ""
	}
	return bodyName(x.ProtoReflect())
}

// bodyName is the message name of the case set in the "body" oneof of m.
func bodyName(m protoreflect.Message) string {
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("body"))
	if fd == nil {
		return ""
	}
	return string(fd.Message().Name())
}

package grain

import (
	"reflect"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cim/personrt/messages/personv1"
)

// typeNames maps the Go type of each case of the "body" oneof of
// personv1.Command and personv1.Event to the type name TypeName returns
// for it. TypeName reads it through protobuf reflection (a descriptor
// lookup by name, WhichOneof) on every call; a command needs it once and
// each of its events once more. Built once per host, read-only after.
type typeNames struct {
	commands, events map[reflect.Type]string
}

func newTypeNames() typeNames {
	return typeNames{
		commands: bodyTypes((&personv1.Command{}).ProtoReflect(), func(m protoreflect.ProtoMessage) any { return m.(*personv1.Command).GetBody() }),
		events:   bodyTypes((&personv1.Event{}).ProtoReflect(), func(m protoreflect.ProtoMessage) any { return m.(*personv1.Event).GetBody() }),
	}
}

// bodyTypes sets each case of m's "body" oneof in turn and maps the Go
// type of the oneof value that body returns to the case's message name.
func bodyTypes(m protoreflect.Message, body func(protoreflect.ProtoMessage) any) map[reflect.Type]string {
	fields := m.Descriptor().Oneofs().ByName("body").Fields()
	names := make(map[reflect.Type]string, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		v := m.New()
		v.Set(fd, v.NewField(fd))
		names[reflect.TypeOf(body(v.Interface()))] = string(fd.Message().Name())
	}
	return names
}

// command returns cmd.TypeName().
func (n typeNames) command(cmd *personv1.Command) string {
	b := cmd.GetBody()
	if b == nil {
		return ""
	}
	if name, ok := n.commands[reflect.TypeOf(b)]; ok {
		return name
	}
	return cmd.TypeName()
}

// event returns e.TypeName().
func (n typeNames) event(e *personv1.Event) string {
	b := e.GetBody()
	if b == nil {
		return ""
	}
	if name, ok := n.events[reflect.TypeOf(b)]; ok {
		return name
	}
	return e.TypeName()
}

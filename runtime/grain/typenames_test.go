package grain

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cim/personrt/messages/personv1"
)

// The tables answer what TypeName answers, for every body and for none.
func TestTypeNames(t *testing.T) {
	n := newTypeNames()
	each := func(m protoreflect.Message, check func(protoreflect.ProtoMessage)) {
		fields := m.Descriptor().Oneofs().ByName("body").Fields()
		if fields.Len() == 0 {
			t.Fatalf("%s has no body cases", m.Descriptor().FullName())
		}
		for i := range fields.Len() {
			v := m.New()
			v.Set(fields.Get(i), v.NewField(fields.Get(i)))
			check(v.Interface())
		}
	}
	each((&personv1.Command{}).ProtoReflect(), func(m protoreflect.ProtoMessage) {
		c := m.(*personv1.Command)
		if got, want := n.command(c), c.TypeName(); got != want || got == "" {
			t.Errorf("command(%T) = %q, want %q", c.GetBody(), got, want)
		}
	})
	each((&personv1.Event{}).ProtoReflect(), func(m protoreflect.ProtoMessage) {
		e := m.(*personv1.Event)
		if got, want := n.event(e), e.TypeName(); got != want || got == "" {
			t.Errorf("event(%T) = %q, want %q", e.GetBody(), got, want)
		}
	})
	if got := n.command(&personv1.Command{}); got != "" {
		t.Errorf("command without body = %q, want \"\"", got)
	}
	if got := n.event(&personv1.Event{}); got != "" {
		t.Errorf("event without body = %q, want \"\"", got)
	}
	if got, want := n.command(&personv1.Command{Body: &personv1.Command_UpdateName{}}), "UpdateName"; got != want {
		t.Errorf("command with an empty body = %q, want %q", got, want)
	}
}

func BenchmarkTypeName(b *testing.B) {
	n := newTypeNames()
	cmd := &personv1.Command{Body: &personv1.Command_UpdateName{UpdateName: &personv1.UpdateName{}}}
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			_ = n.command(cmd)
		}
	})
	b.Run("reflection", func(b *testing.B) {
		for b.Loop() {
			_ = cmd.TypeName()
		}
	})
}

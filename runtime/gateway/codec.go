package gateway

import (
	"strings"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cim/personrt/messages/personv1"
)

// Headers and their values used by the gateway protocol.
const (
	// HeaderContentType selects the encoding of a request and names the
	// encoding of a reply.
	HeaderContentType = "Content-Type"
	// ContentTypeJSON is protojson, the default.
	ContentTypeJSON = "application/json"
	// ContentTypeProtobuf is binary protobuf.
	ContentTypeProtobuf = "application/protobuf"
	// HeaderType names the message in a reply body: its protobuf full name
	// ("person.v1.CommandReply"), or TypeEnd for the end of a history.
	HeaderType = "Cim-Type"
	// TypeEnd marks the last message of a history reply.
	TypeEnd = "end"
	// HeaderFromVersion is the first version a history request wants.
	HeaderFromVersion = "Cim-From-Version"
	// HeaderLimit bounds the events of one history reply.
	HeaderLimit = "Cim-Limit"
	// HeaderNextVersion, on the end message of a history reply, is the
	// version to ask for next when the limit cut the history short.
	HeaderNextVersion = "Cim-Next-Version"
)

// encoding is the wire encoding of one exchange.
type encoding int

const (
	encJSON encoding = iota
	encProtobuf
)

// encodingOf returns the encoding a request's Content-Type asks for, and
// false for a content type the gateway does not speak.
func encodingOf(h nats.Header) (encoding, bool) {
	ct := strings.ToLower(strings.TrimSpace(h.Get(HeaderContentType)))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch ct {
	case "", ContentTypeJSON, "text/json":
		return encJSON, true
	case ContentTypeProtobuf, "application/x-protobuf", "application/vnd.google.protobuf":
		return encProtobuf, true
	}
	return encJSON, false
}

func (e encoding) contentType() string {
	if e == encProtobuf {
		return ContentTypeProtobuf
	}
	return ContentTypeJSON
}

var (
	jsonOut = protojson.MarshalOptions{UseProtoNames: true}
	jsonIn  = protojson.UnmarshalOptions{}
	// jsonLoose decodes past unknown fields, to tell an unknown command
	// (UNIMPLEMENTED) from a malformed one.
	jsonLoose = protojson.UnmarshalOptions{DiscardUnknown: true}
)

func (e encoding) marshal(m proto.Message) ([]byte, error) {
	if e == encProtobuf {
		return proto.Marshal(m)
	}
	return jsonOut.Marshal(m)
}

// message returns a reply message carrying m in encoding e.
func (e encoding) message(subject string, m proto.Message) (*nats.Msg, error) {
	b, err := e.marshal(m)
	if err != nil {
		return nil, err
	}
	return &nats.Msg{Subject: subject, Data: b, Header: nats.Header{
		HeaderContentType: {e.contentType()},
		HeaderType:        {string(m.ProtoReflect().Descriptor().FullName())},
	}}, nil
}

// decode reads a request body into m. A body that names only fields this
// node does not know in place of the oneof "body" is UNIMPLEMENTED with
// unknownRule (a newer client's command); any other failure is
// INVALID_ARGUMENT.
func (e encoding) decode(b []byte, m proto.Message, what, unknownRule string) *personv1.Error {
	if e == encProtobuf {
		if err := proto.Unmarshal(b, m); err != nil {
			return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_malformed", "%s is not valid protobuf: %v", what, err)
		}
		if r := m.ProtoReflect(); len(r.GetUnknown()) > 0 && !hasBody(r) {
			return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, unknownRule, "%s has fields this node does not know and nothing it does", what)
		}
		return nil
	}
	err := jsonIn.Unmarshal(b, m)
	if err == nil {
		return nil
	}
	proto.Reset(m)
	if lerr := jsonLoose.Unmarshal(b, m); lerr == nil && !hasBody(m.ProtoReflect()) && strings.Contains(err.Error(), "unknown field") {
		proto.Reset(m)
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, unknownRule, "%s is not one this node knows: %v", what, err)
	}
	proto.Reset(m)
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_malformed", "%s is not valid JSON for %s: %v", what, m.ProtoReflect().Descriptor().FullName(), err)
}

// hasBody reports whether m has a oneof named "body" with a case set; a
// message without such a oneof (a query) counts as having one only when
// any known field is set.
func hasBody(m protoreflect.Message) bool {
	if o := m.Descriptor().Oneofs().ByName("body"); o != nil {
		return m.WhichOneof(o) != nil
	}
	set := false
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool { set = true; return false })
	return set
}

package migrate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence"
	pjs "github.com/cim/personrt/persistence/jetstream"
)

// Headers of stored events (persistence/jetstream's format, see its package
// doc), and the one a migration adds.
const (
	hdrMsgID         = "Nats-Msg-Id"
	hdrEventType     = "Cim-Event-Type"
	hdrSchemaVersion = "Cim-Schema-Version"
	hdrPersonID      = "Cim-Person-Id"
	hdrPersonVersion = "Cim-Person-Version"
	hdrOccurredAt    = "Cim-Occurred-At"
	hdrCorrelationID = "Cim-Correlation-Id"
	hdrCausationID   = "Cim-Causation-Id"
	hdrActor         = "Cim-Actor"
	hdrContentType   = "Content-Type"
	hdrPrevSeqs      = "Cim-Prev-Seqs"
	// hdrSourceSeq is the stream sequence of the event in the source
	// stream: what a resumed migration compares to know what is copied.
	hdrSourceSeq = "Cim-Source-Seq"

	hdrExpectedLastSubjSeq = "Nats-Expected-Last-Subject-Sequence"

	contentTypeJSON     = "application/json"
	contentTypeProtobuf = "application/protobuf"
)

// sourceMsg is a message read from a stream.
type sourceMsg struct {
	seq     uint64
	subject string
	header  nats.Header
	data    []byte
}

// first returns the first value of a header, "" if absent.
func first(h nats.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Kinds of source messages.
const (
	kindEvent   = iota // decoded
	kindSkipped        // not an event subject
	kindInvalid        // cannot be decoded
)

// decoded is a source message decoded to the current schema.
type decoded struct {
	seq     uint64
	subject string
	kind    int
	env     *personv1.EventEnvelope // kindEvent (a copy drops it once its message is built)
	// What the copy needs of env: its person, version, id and type.
	person, eventID, typ string
	version              uint64
	// from is the stored shape: "schema 1", "legacy envelope", …
	from string
	// schema is the stored schema version of this system's events (0 for
	// the original system's).
	schema uint32
	// msg is the message that stores env in the new stream (migrations
	// only), without the expectation and the backlinks.
	msg *nats.Msg
	// needsVersion marks a legacy event stored without a version: env was
	// decoded at version 1 and the copier derives the real one.
	needsVersion bool
	raw          sourceMsg // kept for a re-decode at the derived version
	err          error     // kindInvalid: why
	skip         string    // kindSkipped: the subject's first tokens
}

// decodeSource decodes a message of a stream whose events are on
// "<prefix>.<personID>[.<suffix>]". Messages of this system (header
// Cim-Event-Type) are upcast by the registry; others are messages of the
// original system and go through upcast.DecodeLegacy.
func decodeSource(m sourceMsg, prefix string) decoded {
	d := decoded{seq: m.seq, subject: m.subject, raw: m}
	rest, ok := strings.CutPrefix(m.subject, prefix+".")
	if !ok || rest == "" {
		d.kind, d.skip = kindSkipped, subjectRoot(m.subject)
		return d
	}
	subjectPerson, _, _ := strings.Cut(rest, ".")
	var err error
	if typ := first(m.header, hdrEventType); typ != "" {
		d.env, d.schema, err = decodeCurrent(m, typ)
		d.from = "schema " + strconv.FormatUint(uint64(d.schema), 10)
		if err == nil && d.env.GetPersonId() != subjectPerson {
			err = fmt.Errorf("%w: rule stored.person_id: event %s of %q is on subject %s", persistence.ErrInvalidEvent, d.env.GetEventId(), d.env.GetPersonId(), m.subject)
		}
	} else {
		d.env, d.from, d.needsVersion, err = decodeLegacy(m)
	}
	if err != nil {
		d.kind, d.err, d.env = kindInvalid, err, nil
		return d
	}
	d.setEnv(d.env)
	return d
}

// setEnv sets env and the fields taken from it.
func (d *decoded) setEnv(env *personv1.EventEnvelope) {
	d.env, d.person, d.eventID, d.typ, d.version = env, env.GetPersonId(), env.GetEventId(), env.GetType(), env.GetVersion()
}

// subjectRoot returns the first two tokens of a subject, which name what a
// skipped message is ("person.commands").
func subjectRoot(s string) string {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if j := strings.IndexByte(s[i+1:], '.'); j >= 0 {
			return s[:i+1+j]
		}
	}
	return s
}

// decodeCurrent decodes a message stored by this system's event store and
// returns its stored schema version.
func decodeCurrent(m sourceMsg, typ string) (*personv1.EventEnvelope, uint32, error) {
	h := m.header
	rec := upcast.Record{
		Binary:   first(h, hdrContentType) == contentTypeProtobuf,
		EventID:  first(h, hdrMsgID),
		PersonID: first(h, hdrPersonID),
		Type:     typ,
		Body:     m.data,
		Meta: upcast.Meta{
			CorrelationID: first(h, hdrCorrelationID),
			CausationID:   first(h, hdrCausationID),
			Actor:         first(h, hdrActor),
		},
	}
	schema, err := strconv.ParseUint(first(h, hdrSchemaVersion), 10, 32)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: rule stored.schema_version: header %s: %v", persistence.ErrInvalidEvent, hdrSchemaVersion, err)
	}
	rec.SchemaVersion = uint32(schema)
	if rec.Version, err = strconv.ParseUint(first(h, hdrPersonVersion), 10, 64); err != nil {
		return nil, rec.SchemaVersion, fmt.Errorf("%w: rule stored.version: header %s: %v", persistence.ErrInvalidEvent, hdrPersonVersion, err)
	}
	if at := first(h, hdrOccurredAt); at != "" {
		if rec.Meta.OccurredAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, rec.SchemaVersion, fmt.Errorf("%w: rule stored.occurred_at: header %s: %v", persistence.ErrInvalidEvent, hdrOccurredAt, err)
		}
	}
	if rec.EventID == "" {
		return nil, rec.SchemaVersion, fmt.Errorf("%w: rule stored.event_id: no %s header", persistence.ErrInvalidEvent, hdrMsgID)
	}
	env, err := upcast.Decode(rec)
	return env, rec.SchemaVersion, err
}

// decodeLegacy decodes a message of the original system. Its person
// version comes from the Cim-Person-Version header or the envelope's
// sequence; without either, it is decoded at version 1 and needsVersion
// asks the caller to derive the version from the person's order in the
// stream.
func decodeLegacy(m sourceMsg) (env *personv1.EventEnvelope, from string, needsVersion bool, err error) {
	p, ok := probeLegacy(m.data)
	switch {
	case !ok:
		from = "legacy" // not a JSON object: DecodeLegacy says why
	case p.has(keyEvent) && p.has(keyEventID):
		from = "legacy streaming envelope"
	case p.has(keyEvent):
		from = "legacy envelope"
	case p.has(keyEventType):
		from = "legacy PersonEventV2"
	case p.has(keyVersion):
		v := p.version
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		from = "legacy flat " + v
	default:
		from = "legacy tagged"
	}
	h := m.header
	if ok && first(h, hdrPersonVersion) == "" && !p.has(keySequence) {
		needsVersion = true
		h = withVersion(h, 1)
	}
	env, err = upcast.DecodeLegacy(m.data, h)
	return env, from, needsVersion, err
}

// withVersion returns a copy of h with Cim-Person-Version v.
func withVersion(h nats.Header, v uint64) nats.Header {
	c := make(nats.Header, len(h)+1)
	for k, vs := range h {
		c[k] = vs
	}
	c[hdrPersonVersion] = []string{strconv.FormatUint(v, 10)}
	return c
}

// decodeAt decodes a version-less legacy message again at version v: its
// derived event id depends on the version.
func decodeAt(m sourceMsg, v uint64) (*personv1.EventEnvelope, error) {
	return upcast.DecodeLegacy(m.data, withVersion(m.header, v))
}

// encodeBody returns the stored body of e in the payload encoding.
func encodeBody(e *personv1.EventEnvelope, payload string) ([]byte, string, error) {
	if payload == pjs.PayloadProtobuf {
		b, err := upcast.EncodeBodyBinary(e.GetEvent())
		return b, contentTypeProtobuf, err
	}
	b, err := upcast.EncodeBody(e.GetEvent())
	return b, contentTypeJSON, err
}

// targetMsg returns the message storing e on subject as
// persistence/jetstream stores it, plus the source sequence; the copier
// adds the expectation and the backlinks.
func targetMsg(subject string, e *personv1.EventEnvelope, body []byte, contentType string, sourceSeq uint64) *nats.Msg {
	h := make(nats.Header, 14)
	h[hdrMsgID] = []string{e.GetEventId()}
	h[hdrEventType] = []string{e.GetType()}
	h[hdrSchemaVersion] = []string{strconv.FormatUint(uint64(e.GetSchemaVersion()), 10)}
	h[hdrPersonID] = []string{e.GetPersonId()}
	h[hdrPersonVersion] = []string{strconv.FormatUint(e.GetVersion(), 10)}
	h[hdrContentType] = []string{contentType}
	if e.GetOccurredAt() != nil {
		h[hdrOccurredAt] = []string{e.GetOccurredAt().AsTime().Format(time.RFC3339Nano)}
	}
	for _, kv := range [...]struct{ key, value string }{
		{hdrCorrelationID, e.GetCorrelationId()}, {hdrCausationID, e.GetCausationId()}, {hdrActor, e.GetActor()},
	} {
		if kv.value != "" {
			h[kv.key] = []string{kv.value}
		}
	}
	h[hdrSourceSeq] = []string{strconv.FormatUint(sourceSeq, 10)}
	return &nats.Msg{Subject: subject, Header: h, Data: body}
}

// formatPrevSeqs encodes backlinks (newest first, strictly decreasing) as
// persistence/jetstream's Cim-Prev-Seqs: the newest absolute, then the
// differences.
func formatPrevSeqs(seqs []uint64) string {
	b := make([]byte, 0, len(seqs)*7)
	for i, s := range seqs {
		if i > 0 {
			b = append(b, ',')
			s = seqs[i-1] - s
		}
		b = strconv.AppendUint(b, s, 10)
	}
	return string(b)
}

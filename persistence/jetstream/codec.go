package jetstream

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/messages/upcast"
	"github.com/cim/personrt/persistence"
)

// Headers of a stored event (see the package doc). Header names are
// case-sensitive in NATS.
const (
	hdrMsgID         = jetstream.MsgIDHeader // the event id
	hdrEventType     = "Cim-Event-Type"
	hdrSchemaVersion = "Cim-Schema-Version"
	hdrCorrelationID = "Cim-Correlation-Id"
	hdrCausationID   = "Cim-Causation-Id"
	hdrActor         = "Cim-Actor"
	hdrPersonID      = "Cim-Person-Id"
	hdrPersonVersion = "Cim-Person-Version"
	hdrOccurredAt    = "Cim-Occurred-At"
	hdrContentType   = "Content-Type"

	contentTypeJSON     = "application/json"
	contentTypeProtobuf = "application/protobuf"

	hdrExpectedLastSubjSeq = jetstream.ExpectedLastSubjSeqHeader
	hdrBatchID             = "Nats-Batch-Id"
	hdrBatchSeq            = "Nats-Batch-Sequence"
	hdrBatchCommit         = "Nats-Batch-Commit"

	// Headers the server adds to direct-get replies.
	hdrStatus     = "Status"
	hdrSequence   = jetstream.SequenceHeader
	hdrSubject    = jetstream.SubjectHeader
	hdrNumPending = "Nats-Num-Pending"
)

// encodeEvent returns the message that stores e on subject as the
// batchIndex-th event of its append, with the stream sequences prev of the
// events before the append (newest first) as backlinks.
func encodeEvent(subject string, e *personv1.EventEnvelope, prev []uint64, batchIndex int, binary bool) (*nats.Msg, error) {
	encode, contentType := upcast.EncodeBody, contentTypeJSON
	if binary {
		encode, contentType = upcast.EncodeBodyBinary, contentTypeProtobuf
	}
	body, err := encode(e.GetEvent())
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.GetEventId(), err)
	}
	// One backing array for the header values: one allocation, not twelve.
	vals := make([]string, 0, 12)
	h := make(nats.Header, 12)
	set := func(key, value string) {
		vals = append(vals, value)
		h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set(hdrMsgID, e.GetEventId())
	set(hdrEventType, e.GetType())
	set(hdrSchemaVersion, strconv.FormatUint(uint64(e.GetSchemaVersion()), 10))
	set(hdrPersonID, e.GetPersonId())
	set(hdrPersonVersion, strconv.FormatUint(e.GetVersion(), 10))
	set(hdrContentType, contentType)
	if e.GetOccurredAt() != nil {
		set(hdrOccurredAt, e.GetOccurredAt().AsTime().Format(time.RFC3339Nano))
	}
	for _, kv := range [...]struct{ key, value string }{
		{hdrCorrelationID, e.GetCorrelationId()}, {hdrCausationID, e.GetCausationId()}, {hdrActor, e.GetActor()},
	} {
		if kv.value != "" {
			set(kv.key, kv.value)
		}
	}
	if len(prev) > 0 {
		set(hdrPrevSeqs, formatPrevSeqs(prev))
	}
	if batchIndex > 0 {
		set(hdrBatchIndex, strconv.Itoa(batchIndex))
	}
	return &nats.Msg{Subject: subject, Header: h, Data: body}, nil
}

// first returns the first value of a header, "" if absent.
func first(h nats.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// stored is a message read back from the stream.
type stored struct {
	seq    uint64
	header nats.Header
	data   []byte
}

// decodeEvent decodes a stored message of personID into the current schema.
// A message without Cim-Event-Type is a raw message of the original system
// and goes through [upcast.DecodeLegacy]. The error wraps
// persistence.ErrInvalidEvent and names the stream sequence.
func decodeEvent(personID string, m stored) (*personv1.EventEnvelope, error) {
	e, err := decodeStored(m)
	if err != nil {
		return nil, fmt.Errorf("stored event of %s at stream sequence %d: %w", personID, m.seq, err)
	}
	if e.GetPersonId() != personID {
		return nil, fmt.Errorf("%w: rule stored.person_id: stored event %s at stream sequence %d belongs to %q, read as %q", persistence.ErrInvalidEvent, e.GetEventId(), m.seq, e.GetPersonId(), personID)
	}
	return e, nil
}

func decodeStored(m stored) (*personv1.EventEnvelope, error) {
	h := m.header
	typ := first(h, hdrEventType)
	if typ == "" {
		return upcast.DecodeLegacy(m.data, h)
	}
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
		return nil, fmt.Errorf("%w: rule stored.schema_version: header %s: %v", persistence.ErrInvalidEvent, hdrSchemaVersion, err)
	}
	rec.SchemaVersion = uint32(schema)
	if rec.Version, err = strconv.ParseUint(first(h, hdrPersonVersion), 10, 64); err != nil {
		return nil, fmt.Errorf("%w: rule stored.version: header %s: %v", persistence.ErrInvalidEvent, hdrPersonVersion, err)
	}
	if at := first(h, hdrOccurredAt); at != "" {
		if rec.Meta.OccurredAt, err = time.Parse(time.RFC3339Nano, at); err != nil {
			return nil, fmt.Errorf("%w: rule stored.occurred_at: header %s: %v", persistence.ErrInvalidEvent, hdrOccurredAt, err)
		}
	}
	if rec.EventID == "" {
		return nil, fmt.Errorf("%w: rule stored.event_id: no %s header", persistence.ErrInvalidEvent, hdrMsgID)
	}
	return upcast.Decode(rec)
}

// linksOf returns the backlinks and event id of a stored message.
func linksOf(m stored) (links, string, error) {
	v, id, err := storedVersion(m)
	if err != nil {
		return links{}, "", err
	}
	return parseLinks(m.seq, v, first(m.header, hdrPrevSeqs), first(m.header, hdrBatchIndex)), id, nil
}

// storedVersion returns the person version and event id of a stored
// message without decoding its body when the headers carry them.
func storedVersion(m stored) (version uint64, eventID string, err error) {
	if v := first(m.header, hdrPersonVersion); v != "" && first(m.header, hdrEventType) != "" {
		version, err = strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("%w: rule stored.version: stream sequence %d: header %s: %v", persistence.ErrInvalidEvent, m.seq, hdrPersonVersion, err)
		}
		return version, first(m.header, hdrMsgID), nil
	}
	e, err := decodeStored(m)
	if err != nil {
		return 0, "", fmt.Errorf("stream sequence %d: %w", m.seq, err)
	}
	return e.GetVersion(), e.GetEventId(), nil
}

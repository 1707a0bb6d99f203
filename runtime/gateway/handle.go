package gateway

import (
	"context"
	"errors"
	"strconv"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/cim/personrt/actors/onboarding"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/persistence"
)

// command decodes and executes a command addressed to person id.
func (g *Gateway) command(ctx context.Context, id string, body []byte, enc encoding, h *Handled) proto.Message {
	fail := func(e *personv1.Error) proto.Message {
		e.PersonId = id
		return commands.errorReply(e)
	}
	if len(body) == 0 {
		return fail(personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.body_empty", "a command request needs a Command body"))
	}
	cmd := &personv1.Command{}
	if e := enc.decode(body, cmd, "the command", "gateway.command_unknown"); e != nil {
		return fail(e)
	}
	h.CommandType = cmd.TypeName()
	if cmd.GetBody() == nil {
		return fail(personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "command.body_required", "the command sets no command (create_person, update_name, …)"))
	}
	if e := matchPerson(&cmd.PersonId, id); e != nil {
		return fail(e)
	}
	var exec Executor = g.cfg.Persons
	if _, ok := onboarding.KindOf(cmd); ok && g.cfg.Onboarding != nil {
		exec = g.cfg.Onboarding
	}
	res, err := exec.Execute(ctx, cmd)
	if err != nil {
		return commands.errorReply(personv1.AsError(err, id))
	}
	return &personv1.CommandReply{Reply: &personv1.CommandReply_Result{Result: res}}
}

// query answers a GetPerson (an empty body means GetPerson of id).
func (g *Gateway) query(ctx context.Context, id string, body []byte, enc encoding) proto.Message {
	fail := func(e *personv1.Error) proto.Message {
		e.PersonId = id
		return queries.errorReply(e)
	}
	q := &personv1.GetPerson{}
	if len(body) > 0 {
		if e := enc.decode(body, q, "the query", "gateway.query_unknown"); e != nil {
			return fail(e)
		}
	}
	if e := matchPerson(&q.PersonId, id); e != nil {
		return fail(e)
	}
	p, err := g.cfg.Persons.Get(ctx, id)
	if err != nil {
		return queries.errorReply(personv1.AsError(err, id))
	}
	return &personv1.PersonReply{Reply: &personv1.PersonReply_Person{Person: p}}
}

// matchPerson fills an empty person id from the subject and rejects a
// different one.
func matchPerson(bodyID *string, subjectID string) *personv1.Error {
	switch *bodyID {
	case "":
		*bodyID = subjectID
	case subjectID:
	default:
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.person_id_mismatch", "the body names person %q but the subject person %q", *bodyID, subjectID)
	}
	return nil
}

// errPageFull stops a history Load at the limit.
var errPageFull = errors.New("gateway: history page full")

// history publishes person id's events as reply messages and ends with an
// end message. It returns the error to answer instead, if any (also after
// some events were sent: the client stops at the error).
func (g *Gateway) history(ctx context.Context, id string, m *nats.Msg, enc encoding) *personv1.Error {
	fail := func(e *personv1.Error) *personv1.Error {
		e.PersonId = id
		return e
	}
	if g.cfg.History == nil {
		return fail(personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "gateway.history_disabled", "this node serves no history"))
	}
	from, limit := uint64(1), g.cfg.HistoryLimit
	if v := m.Header.Get(HeaderFromVersion); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return fail(personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.history_from", "%s %q is not a version", HeaderFromVersion, v))
		}
		from = max(n, 1)
	}
	if v := m.Header.Get(HeaderLimit); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fail(personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "gateway.history_limit", "%s %q is not a positive number", HeaderLimit, v))
		}
		limit = min(n, g.cfg.HistoryLimit)
	}
	sent := 0
	var next uint64
	err := g.cfg.History.Load(ctx, id, from, func(e *personv1.EventEnvelope) error {
		if sent == limit {
			next = e.GetVersion()
			return errPageFull
		}
		out, err := enc.message(m.Reply, e)
		if err != nil {
			return err
		}
		if err := g.cfg.Conn.PublishMsg(out); err != nil {
			return err
		}
		sent++
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return fail(storeError(err))
	}
	end := &nats.Msg{Subject: m.Reply, Header: nats.Header{HeaderContentType: {enc.contentType()}, HeaderType: {TypeEnd}}}
	if next > 0 {
		end.Header.Set(HeaderNextVersion, strconv.FormatUint(next, 10))
	}
	if err := g.cfg.Conn.PublishMsg(end); err != nil {
		return fail(personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "gateway.reply", "history end not sent: %v", err))
	}
	return nil
}

// storeError is the wire error of a failed history read.
func storeError(err error) *personv1.Error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED, "gateway.timeout", "history not read in time: %v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, persistence.ErrClosed):
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, "gateway.shutting_down", "history read stopped: %v", err)
	}
	return personv1.AsError(err, "")
}

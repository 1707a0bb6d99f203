package policy

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	apolicy "github.com/cim/personrt/actors/policy"
	"github.com/cim/personrt/messages/personv1"
	"github.com/cim/personrt/runtime/client"
	"github.com/cim/personrt/runtime/timer"
)

// executor carries out reactions. Safe for concurrent use.
type executor struct {
	clients map[string]*client.Client // by grain kind
	js      jetstream.JetStream
	timers  *timer.Timers
}

// run carries out rs in order and stops at the first failure, which it
// returns wrapped with the reaction's position.
func (x *executor) run(ctx context.Context, rs []apolicy.Reaction) error {
	for i := range rs {
		if err := x.one(ctx, &rs[i]); err != nil {
			return fmt.Errorf("reaction %d of %d (%s): %w", i+1, len(rs), rs[i].Policy, err)
		}
	}
	return nil
}

func (x *executor) one(ctx context.Context, r *apolicy.Reaction) error {
	switch {
	case r.Command != nil:
		return x.command(ctx, r.Target, r.Command, r.Accepts)
	case r.Notification != nil:
		return x.notify(ctx, r.Notification)
	case r.Timer != nil && r.Timer.Cancel:
		return x.timers.Cancel(ctx, r.Timer.Key)
	case r.Timer != nil:
		return x.timers.Arm(ctx, r.Timer)
	}
	return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INTERNAL, "reaction.empty", "a reaction of %s has nothing to do", r.Policy)
}

// command sends cmd to its grain; a rejection accept accepts is success.
func (x *executor) command(ctx context.Context, target string, cmd *personv1.Command, accept func(error) bool) error {
	c, ok := x.clients[target]
	if !ok {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_UNIMPLEMENTED, "reaction.target", "no grain kind %q", target)
	}
	_, err := c.Execute(ctx, cmd)
	if err != nil && accept(err) {
		return nil
	}
	return err
}

// notify publishes n; with n.Once only on an empty subject, and a subject
// that holds one already counts as done.
func (x *executor) notify(ctx context.Context, n *apolicy.Notification) error {
	b, err := protojson.Marshal(n.Message)
	if err != nil {
		return personv1.Reject(personv1.ErrorCode_ERROR_CODE_INVALID_ARGUMENT, "notification.encode", "notification %s: %v", n.ID, err)
	}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(n.ID)}
	if n.Once {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(0))
	}
	m := &nats.Msg{Subject: n.Subject, Data: b, Header: nats.Header{"Content-Type": []string{"application/json"}}}
	_, err = x.js.PublishMsg(ctx, m, opts...)
	var ae *jetstream.APIError
	if n.Once && errors.As(err, &ae) && (ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return nil // the person was notified before
	}
	if err != nil {
		return fmt.Errorf("publish notification %s: %w", n.Subject, err)
	}
	return nil
}

// transient reports whether a failure may go away on a retry: the codes of
// an unavailable or overloaded grain, a lost race, a timeout or a bug that
// restarted the grain; and every error that is not a *personv1.Error (NATS
// and network errors).
func transient(err error) bool {
	switch personv1.AsError(err, "").GetCode() {
	case personv1.ErrorCode_ERROR_CODE_UNAVAILABLE, personv1.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED,
		personv1.ErrorCode_ERROR_CODE_CONFLICT, personv1.ErrorCode_ERROR_CODE_INTERNAL,
		personv1.ErrorCode_ERROR_CODE_RESOURCE_EXHAUSTED, personv1.ErrorCode_ERROR_CODE_UNSPECIFIED:
		return true
	}
	return false
}

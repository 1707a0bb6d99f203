// Package client is the typed client of event-sourced grains: a thin
// hand-written wrapper over protoactor-go's cluster requests with the oneof
// *personv1.Command (no generated grain code: no second serialisation, no
// positional method ids).
//
// [Client.Execute] sends a command and returns its *personv1.CommandResult;
// [Client.Get] returns a person's state; [Client.Ask] sends any query.
//
// # Deadlines and errors
//
// Every call is bounded by its ctx (or Config.Timeout when ctx has none):
// cancelling ctx returns at once. Errors are *personv1.Error values that
// match the personv1.Err* sentinels with errors.Is: a grain's rejection
// keeps its code and rule; a call that ran out of time is
// DEADLINE_EXCEEDED (and matches ctx's error); no reachable activation is
// UNAVAILABLE.
//
// # Retries
//
// protoactor-go retries a request three times with pauses of 50, 200 and
// 450 nanoseconds. The client asks it for one attempt and retries
// UNAVAILABLE failures itself with exponential back-off and jitter, up to
// Config.MaxAttempts and the deadline. Commands carry a command id (Execute
// sets one when empty), so a retry never applies a command twice. A call
// that timed out is not retried: its outcome is unknown; retry it with the
// same command id.
package client

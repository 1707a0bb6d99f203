// Package timer keeps durable timers in JetStream with the server's message
// scheduling (nats-server 2.12+, StreamConfig.AllowMsgSchedules): a timer
// survives restarts of the node and of the server because it is a stored
// message, and the server, not this process, fires it.
//
// # Stream
//
// Stream PERSON_TIMERS (Config.Stream) binds "<prefix>.>" (default
// "timers.>"), work-queue retention, allow message schedules and rollups.
// Arming timer K publishes one message on "<prefix>.schedule.K" with
// headers
//
//	Nats-Schedule         @at <RFC 3339 time, nanoseconds>
//	Nats-Schedule-Target  <prefix>.fired.K
//	Cim-Timer-Target      the grain kind of the command
//	Cim-Timer-If-Version  fire only if the aggregate is still at this version
//	Cim-Timer-Accept      rejections that count as success: CODE/rule,…
//
// and the command (protobuf) as payload. The server keeps one schedule per
// subject (a new one rolls the previous one up), so arming K again replaces
// its timer: that is how AutoArchive re-arms on every event. Cancelling
// purges the subject. When the time comes the server stores the payload and
// the Cim headers on "<prefix>.fired.K" and purges the schedule; [Timers.Run]
// consumes the fired timers with a durable consumer and acks them, which
// removes them (work queue).
//
// # Resolution and costs
//
// The server checks due schedules on a timer that it never sets closer
// than 250 ms ahead, so a timer fires up to about 250 ms late, plus the
// consumer's delivery (BenchmarkFireLateness reports p50/p99/max). Arming
// is one publish (BenchmarkArm) and the server keeps every pending
// schedule in an in-memory hash wheel besides the stored message, so a
// million idle persons cost a million small stored messages and their
// wheel entries. The alternative, a KV of due times swept by a poller,
// would need a sweeper per node, leader election or locking, and a scan
// proportional to the timers; message scheduling needs none of that and
// survives restarts of the node and the server (TestSurvivesServerRestart).
//
// A fired timer is delivered at least once: its command carries a
// deterministic id, and runtime/policy drops a fired timer armed with
// IfVersion when its aggregate has moved on since (a newer event re-armed
// or cancelled it).
package timer

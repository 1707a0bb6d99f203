// Package policy holds the business rules that react to stored events with
// new commands, as pure functions: a [Policy] evaluates one event envelope
// at a time and returns [Reaction] values (a command for a grain kind, a
// notification to publish, a durable timer to arm or cancel). Nothing here
// does I/O; runtime/policy runs each policy on its own durable consumer and
// carries the reactions out.
//
// # Policies
//
// On the person event stream ([KindPerson]):
//
//   - [WelcomeNotification]: PersonCreated with an email contact, or a
//     ContactAdded email → a welcome [personv1.Notification] on
//     "<NotificationSubject>.<personID>", published at most once per person
//     (the runtime stores it only on an empty subject), so only the first
//     email of a person gets one.
//   - [DataQuality]: an email that actors/person/contact rejects →
//     FlagDataQuality; a stored phone (or email) that normalises to another
//     value (legacy data) → NormalizeContact; an unusable phone →
//     FlagDataQuality; a given or family name part shorter than 2
//     characters (a single Han, Hangul or kana character excepted) →
//     FlagDataQuality.
//   - [AutoArchive]: every event of a person re-arms the durable timer
//     "auto-archive.<personID>" for occurred_at + Config.ArchiveAfter; when
//     it fires with no newer event of the person it sends ArchivePerson("auto-archived
//     after N days of inactivity"). A terminal event cancels the timer.
//   - [Onboarding]: PersonCreated → StartOnboarding on the onboarding kind,
//     with Config.OnboardingDeadlines.
//   - [MergeBookkeeping]: PersonMergedInto on A → RecordMergeReceived(A) on
//     the target B.
//
// On the onboarding event stream ([KindOnboarding]):
//
//   - [OnboardingDeadlines]: an event entering a state with a deadline arms
//     the timer "onboarding-deadline.<personID>" for ExpireOnboardingStep;
//     entering a state without one, or a terminal state, cancels it.
//   - [OnboardingCompletion]: OnboardingCompleted → AddContact +
//     VerifyContact for the email and the phone on the person.
//
// No policy emits a command that would change nothing: each reacts only
// when its condition holds.
//
// # Idempotency
//
// Every command id is [DeriveID](policy, triggering event id, part): a
// UUIDv8 built from SHA-256, so a redelivered event produces the same
// commands and the grain answers the first result instead of writing again.
// causation_id is the event id, correlation_id the event's, actor
// "policy:<name>". Reaction.Accept lists rejections that mean the effect
// already happened (for example ALREADY_EXISTS merge.already_received), which
// the runtime counts as success.
package policy

// Package onboarding is the pure domain of the onboarding workflow, an
// event-sourced actor kind run by the same grain shell as the person (one
// workflow per person id): its [State], [Decide], [Apply], the workflow
// table ([Machine]) and snapshots.
//
// # Workflow
//
//	Started ─StartOnboarding─► AwaitingIdentityVerification ─VerifyIdentity─►
//	CollectingBasicInfo ─ProvideBasicInfo─► SettingUpComponents ─AddComponents─►
//	AssigningLocation ─AssignLocation─► Finalizing ─CompleteOnboarding─► Completed
//
// FailOnboarding moves every non-terminal state to Failed and keeps its
// reason and the state it failed in. Completed and Failed are terminal.
// Started is the state of a workflow without events (grains are virtual: the
// workflow of every person id exists, not started).
//
// Guards: VerifyIdentity needs an identity id; ProvideBasicInfo needs an
// email and a phone that [contact.NormalizeEmail] and [contact.NormalizePhone]
// accept (they are stored normalised); AddComponents needs a type for every
// component and JSON data; AssignLocation a location id; FailOnboarding a
// reason. Every rejection is a *personv1.Error naming its rule (the Rule
// constants, or the contact package's for contacts): a step out of order is
// FAILED_PRECONDITION [RuleOutOfOrder], a second StartOnboarding is
// ALREADY_EXISTS [RuleAlreadyStarted], a step before it FAILED_PRECONDITION
// [RuleNotStarted], anything after the end FAILED_PRECONDITION [RuleTerminal],
// and a person command UNIMPLEMENTED [RuleNotOnboarding].
//
// # Deadlines
//
// StartOnboarding carries a deadline per state (from the Onboarding policy's
// configuration); OnboardingStarted records them. Every event that enters a
// state with a deadline carries step_deadline = occurred time + timeout. The
// runtime arms a durable timer for it (actors/policy, OnboardingDeadlines);
// when it fires it sends ExpireOnboardingStep{state}, which fails the
// workflow with "deadline exceeded in <state>" if it is still in that state
// and is ignored (no event, no error) if it moved on. [Entered] tells which
// state an event enters and its deadline.
//
// # Completion
//
// OnboardingCompleted carries the verified email and phone; the
// OnboardingCompletion policy (actors/policy) sends them to the person as
// AddContact + VerifyContact commands.
package onboarding

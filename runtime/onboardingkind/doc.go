// Package onboardingkind wires the pure onboarding workflow
// (actors/onboarding) into the generic grain shell, exactly as
// runtime/personkind does for persons: [Kind] is the grain.Kind of
// onboarding grains (cluster kind "onboarding", identity = the person id),
// with protobuf OnboardingSnapshot snapshots and the GetOnboarding query.
//
// Onboarding events live on their own stream: [StoreConfig] turns a
// persistence/jetstream Config into the onboarding one (stream
// ONBOARDING_EVENTS, subjects onboarding.events.<personID>, snapshot bucket
// ONBOARDING_SNAPSHOTS).
package onboardingkind

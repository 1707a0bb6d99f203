//go:build race

package main

// raceEnabled: the test binary runs under the race detector, so the example
// it builds reuses the race-instrumented packages already compiled.
const raceEnabled = true

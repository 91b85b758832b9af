//go:build race

package engine

// raceEnabled is true under -race, whose instrumentation allocates.
const raceEnabled = true

package bench

import "errors"

// Errors returned by the harness.
var (
	// ErrUnknownScenario means a scenario name is not in Scenarios.
	ErrUnknownScenario = errors.New("bench: unknown scenario")
	// ErrUnknownTarget means a target name is not gust, mosquitto, mochi,
	// http or name=host:port.
	ErrUnknownTarget = errors.New("bench: unknown target")
	// ErrNoTargets means no requested target is available on this machine.
	ErrNoTargets = errors.New("bench: no target available")
	// ErrNotListening means a started broker did not accept connections in time.
	ErrNotListening = errors.New("bench: target did not start listening")
	// ErrRepoRoot means the Gust module root (for building peers) was not found.
	ErrRepoRoot = errors.New("bench: Gust module root not found (run from the repository)")
)

package engine

import (
	"context"
	"log/slog"
	"net"
	"os"
)

// Broker is an MQTT broker. Create it with New, run it with Start, stop it
// with Shutdown. Its methods are safe from any goroutine.
type Broker struct {
	cfg  Config
	log  *slog.Logger
	addr net.Addr
}

// New validates cfg and returns a broker that is not yet listening.
func New(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slogLevel(cfg.LogLevel)}))
	}
	return &Broker{cfg: cfg, log: log}, nil
}

// Start binds the listener and starts the event loops. It returns once the
// broker accepts connections; Addr then reports the bound address.
func (b *Broker) Start() error {
	return nil
}

// Addr returns the address the broker listens on, or nil before Start.
func (b *Broker) Addr() net.Addr {
	return b.addr
}

// Shutdown stops accepting connections, publishes the wills of the
// connected clients as the specification requires for a server-side close,
// closes every connection and stops the event loops. It returns when done
// or when ctx expires.
func (b *Broker) Shutdown(ctx context.Context) error {
	return nil
}

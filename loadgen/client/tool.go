package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// ErrTimeout means a subscriber's timeout (mosquitto_sub -W) passed.
var ErrTimeout = errors.New("client: timed out")

// maxPayload is the largest payload a PUBLISH can carry.
const maxPayload = codec.MaxRemainingLength - 7 - 65535

// Source says where a publisher's payloads come from.
type Source uint8

// Payload sources of PubConfig.
const (
	SourceMessage Source = iota // PubConfig.Payload (-m, or -n for an empty one)
	SourceFile                  // the whole file PubConfig.File (-f)
	SourceStdin                 // the whole standard input as one message (-s)
	SourceLines                 // one message per line of standard input (-l)
)

// PubConfig is what `gust pub` does: connect, publish one message (or one
// per input line, or Repeat times), disconnect.
type PubConfig struct {
	Options
	// Message is the message to send; its Payload is set from Source.
	Message Message
	Source  Source
	// File is the payload file of SourceFile.
	File string
	// Repeat sends the message this many times (at least once), RepeatDelay apart.
	Repeat      int
	RepeatDelay time.Duration
}

// RunPub runs a publisher; stdin feeds SourceStdin and SourceLines. Each
// QoS 1 or 2 message is acknowledged before the next is sent. With
// SourceLines, cancelling ctx (an interrupt) is a normal end.
func RunPub(ctx context.Context, cfg PubConfig, stdin io.Reader) error {
	m := cfg.Message
	switch cfg.Source {
	case SourceFile:
		b, err := readBounded(cfg.File, nil)
		if err != nil {
			return err
		}
		m.Payload = b
	case SourceStdin:
		b, err := readCtx(ctx, func() ([]byte, error) { return readBounded("standard input", stdin) })
		if err != nil {
			return err
		}
		m.Payload = b
	}
	c, err := Dial(ctx, cfg.Options)
	if err != nil {
		return err
	}
	defer c.Close()
	if cfg.Source == SourceLines {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), maxPayload)
		for {
			line, err := readCtx(ctx, func() ([]byte, error) {
				if !sc.Scan() {
					if err := sc.Err(); err != nil {
						return nil, fmt.Errorf("standard input: %w", err)
					}
					return nil, io.EOF
				}
				return sc.Bytes(), nil
			})
			if errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
				return c.Disconnect()
			}
			if err != nil {
				return err
			}
			m.Payload = line
			if err := c.Publish(ctx, &m); errors.Is(err, context.Canceled) {
				return c.Disconnect() // interrupted while waiting for an acknowledgement
			} else if err != nil {
				return err
			}
		}
	}
	for i := range max(cfg.Repeat, 1) {
		if i > 0 && cfg.RepeatDelay > 0 {
			select {
			case <-time.After(cfg.RepeatDelay):
			case <-ctx.Done():
				return c.Disconnect()
			}
		}
		if err := c.Publish(ctx, &m); err != nil {
			return err
		}
	}
	return c.Disconnect()
}

// readCtx runs read, which may block on input, and returns its result, or
// ctx's error as soon as ctx ends (the read is then abandoned; the process
// is about to exit). The slice read returns is used before read runs again.
func readCtx(ctx context.Context, read func() ([]byte, error)) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := read()
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// readBounded reads a payload from the file named name (r nil) or from r,
// refusing one larger than a PUBLISH can carry.
func readBounded(name string, r io.Reader) ([]byte, error) {
	if r == nil {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(b) > maxPayload {
		return nil, fmt.Errorf("%s: larger than the largest MQTT payload (%d bytes)", name, maxPayload)
	}
	return b, nil
}

// SubConfig is what `gust sub` does: subscribe, print messages, stop after
// Count messages, after Timeout, or when the context ends.
type SubConfig struct {
	Options
	// Topics are the filters, subscribed in one SUBSCRIBE at QoS.
	Topics []string
	QoS    byte
	// SubscribeProps are the MQTT 5 properties of SUBSCRIBE (user properties).
	SubscribeProps codec.Properties
	// Unsubscribe are filters to unsubscribe from after subscribing (-U).
	Unsubscribe []string
	// FilterOut are topic filters whose messages are not printed (-T).
	FilterOut []string
	// Count stops after this many printed messages (0: no bound).
	Count int
	// Timeout stops with ErrTimeout after this long (0: no bound).
	Timeout time.Duration
	// Format renders each message; nil prints the payload, or with Verbose
	// the topic, a space and the payload. As in mosquitto_sub, an empty
	// payload prints nothing without Verbose and "(null)" with it.
	Format  *Format
	Verbose bool
	// NoEOL leaves out the newline after each message.
	NoEOL bool
	// NoRetained skips retained messages (stale ones, -R).
	NoRetained bool
	// RetainedOnly prints retained messages and stops at the first other.
	RetainedOnly bool
	// RemoveRetained clears each retained message received (-remove-retained).
	RemoveRetained bool
	// ExitAfterSubscribe stops once the SUBACK has come (-E).
	ExitAfterSubscribe bool
}

// RunSub runs a subscriber, writing messages to out and warnings (refused
// subscriptions, payloads %J cannot show) to errOut.
func RunSub(ctx context.Context, cfg SubConfig, out, errOut io.Writer) error {
	if len(cfg.Topics) == 0 && len(cfg.Unsubscribe) == 0 {
		return errors.New("client: no topic to subscribe to")
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.Timeout, ErrTimeout)
		defer cancel()
	}
	c, err := Dial(ctx, cfg.Options)
	if err != nil {
		return timeoutCause(ctx, err)
	}
	defer c.Close()
	if err := subscribe(ctx, c, &cfg, errOut); err != nil {
		return timeoutCause(ctx, err)
	}
	if cfg.ExitAfterSubscribe {
		return c.Disconnect()
	}
	w := bufio.NewWriter(out)
	defer w.Flush()
	var buf []byte
	printed := 0
	for {
		var m *Message
		select {
		case <-ctx.Done():
			_ = w.Flush()
			_ = c.Disconnect()
			if errors.Is(context.Cause(ctx), ErrTimeout) {
				return ErrTimeout
			}
			return nil
		case m = <-c.Messages():
		}
		if m == nil {
			return c.Err()
		}
		if cfg.RetainedOnly && !m.Retain {
			return c.Disconnect()
		}
		if (cfg.NoRetained && m.Retain) || filteredOut(cfg.FilterOut, m.Topic) {
			continue
		}
		if buf, err = render(buf[:0], &cfg, m); err != nil {
			fmt.Fprintf(errOut, "%v on topic %s\n", err, m.Topic)
			continue
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		if len(c.Messages()) == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
		if cfg.RemoveRetained && m.Retain && len(m.Payload) > 0 {
			if err := c.Publish(ctx, &Message{Topic: m.Topic, Retain: true, QoS: 1}); err != nil {
				return err
			}
		}
		if printed++; cfg.Count > 0 && printed >= cfg.Count {
			_ = w.Flush()
			return c.Disconnect()
		}
	}
}

// subscribe sends the SUBSCRIBE (and UNSUBSCRIBE) of cfg; a refused filter
// is a warning, all refused an error.
func subscribe(ctx context.Context, c *Client, cfg *SubConfig, errOut io.Writer) error {
	if len(cfg.Topics) > 0 {
		subs := make([]codec.Subscription, len(cfg.Topics))
		for i, t := range cfg.Topics {
			subs[i] = codec.Subscription{Filter: []byte(t), QoS: cfg.QoS}
		}
		codes, err := c.Subscribe(ctx, subs, &cfg.SubscribeProps)
		if err != nil {
			return err
		}
		refused := 0
		for i, rc := range codes {
			if rc >= 0x80 {
				refused++
				fmt.Fprintf(errOut, "subscription to %s refused: 0x%02X %s\n", cfg.Topics[i], byte(rc), rc)
			}
		}
		if refused == len(codes) {
			return errors.New("client: every subscription was refused")
		}
	}
	if len(cfg.Unsubscribe) > 0 {
		if _, err := c.Unsubscribe(ctx, cfg.Unsubscribe...); err != nil {
			return err
		}
	}
	return nil
}

// render appends the output of one message.
func render(dst []byte, cfg *SubConfig, m *Message) ([]byte, error) {
	switch {
	case cfg.Format != nil:
		var err error
		if dst, err = cfg.Format.Append(dst, m, time.Now()); err != nil {
			return dst, err
		}
	case cfg.Verbose && len(m.Payload) == 0:
		dst = append(append(dst, m.Topic...), " (null)"...) // as mosquitto_sub -v
	case cfg.Verbose:
		dst = append(append(append(dst, m.Topic...), ' '), m.Payload...)
	case len(m.Payload) == 0:
		return dst, nil // mosquitto_sub prints nothing, not even a newline
	default:
		dst = append(dst, m.Payload...)
	}
	if !cfg.NoEOL {
		dst = append(dst, '\n')
	}
	return dst, nil
}

// filteredOut reports whether topic matches one of the filters.
func filteredOut(filters []string, topic string) bool {
	for _, f := range filters {
		if MatchFilter(f, topic) {
			return true
		}
	}
	return false
}

// timeoutCause turns the error of an operation cut short by the Timeout
// into ErrTimeout.
func timeoutCause(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), ErrTimeout) {
		return ErrTimeout
	}
	return err
}

package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// writeTimeout bounds one write to the broker, so a broker that stopped
// reading cannot block a caller for ever.
const writeTimeout = 30 * time.Second

// Client is one connection to a broker. Safe for use from any goroutine.
type Client struct {
	opts    Options
	conn    net.Conn
	connack Connack

	wmu       sync.Mutex // guards wbuf and the writes to conn
	wbuf      []byte
	lastWrite atomic.Int64 // Unix nanos

	mu      sync.Mutex // guards the fields below
	nextID  uint16
	pending map[uint16]chan reply // outbound QoS 1/2 PUBLISH, SUBSCRIBE, UNSUBSCRIBE
	closed  bool                  // set by finish; err is final
	err     error

	inQoS2    map[uint16]bool // inbound QoS 2 ids awaiting PUBREL; read loop only
	sendQuota chan struct{}   // the broker's Receive Maximum
	pingSent  atomic.Int64    // Unix nanos of the unanswered PINGREQ, 0 if none
	pingLate  atomic.Bool
	msgs      chan *Message
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when the read loop has ended
	closeOnce sync.Once
}

// reply completes a request: an acknowledgement or the failure that ended
// the connection.
type reply struct {
	code   codec.ReasonCode
	codes  []codec.ReasonCode // SUBACK, UNSUBACK
	reason string
	err    error
}

// Dial connects to the broker, sends CONNECT and waits for CONNACK. A
// refusal is a *ConnackError; a TCP failure is the dial error (such as
// connection refused) naming the address.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	ep, err := ParseEndpoint(opts.Addr)
	if err != nil {
		return nil, err
	}
	if opts.Version == 0 {
		opts.Version = codec.V311
	}
	if opts.Version != codec.V311 && opts.Version != codec.V5 {
		return nil, fmt.Errorf("client: protocol version %d (want 4 for 3.1.1 or 5)", opts.Version)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.MaxPacketSize <= 0 || opts.MaxPacketSize > codec.MaxRemainingLength+5 {
		opts.MaxPacketSize = codec.MaxRemainingLength + 5
	}
	if opts.MessageBuffer <= 0 {
		opts.MessageBuffer = 64
	}
	conn, err := dialTransport(ctx, ep, &opts)
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts:    opts,
		conn:    conn,
		pending: map[uint16]chan reply{},
		inQoS2:  map[uint16]bool{},
		msgs:    make(chan *Message, opts.MessageBuffer),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	if err := c.handshake(ctx, r); err != nil {
		_ = conn.Close()
		return nil, err
	}
	go c.readLoop(r)
	if ka := c.keepAlive(); ka > 0 {
		go c.keepAliveLoop(ka)
	}
	return c, nil
}

// dialTransport connects to ep and sets up its transport (TLS, the
// WebSocket upgrade) within DialTimeout.
func dialTransport(ctx context.Context, ep Endpoint, opts *Options) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", ep.HostPort)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(ep.HostPort)
	if ep.TLS || opts.TLS != nil {
		cfg := &tls.Config{}
		if opts.TLS != nil {
			cfg = opts.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("client: TLS handshake with %s: %w", ep.HostPort, err)
		}
		conn = tc
	}
	if !ep.WebSocket && !opts.WebSocket {
		return conn, nil
	}
	path := opts.WSPath
	if path == "" {
		path = ep.Path
	}
	if path == "" {
		path = DefaultWSPath
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	wc, err := upgradeWebSocket(conn, ep.HostPort, path)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return wc, nil
}

// handshake sends CONNECT and reads CONNACK within DialTimeout.
func (c *Client) handshake(ctx context.Context, r *bufio.Reader) error {
	o := &c.opts
	p := codec.Connect{
		Version:    o.Version,
		CleanStart: o.CleanStart,
		KeepAlive:  o.KeepAlive,
		ClientID:   []byte(o.ClientID),
	}
	if o.Version == codec.V5 {
		p.Props.User = o.UserProperties
		if o.SessionExpiry > 0 {
			p.Props.SessionExpiry = o.SessionExpiry
			p.Props.Set(codec.PropSessionExpiry)
		}
		p.Props.MaximumPacketSize = uint32(o.MaxPacketSize)
		p.Props.Set(codec.PropMaximumPacketSize)
	}
	if o.Username != "" {
		p.UsernameFlag, p.Username = true, []byte(o.Username)
	}
	if o.Password != "" {
		p.PasswordFlag, p.Password = true, []byte(o.Password)
	}
	if w := o.Will; w != nil {
		p.WillFlag, p.WillQoS, p.WillRetain = true, w.QoS, w.Retain
		p.WillTopic, p.WillPayload = []byte(w.Topic), w.Payload
		if o.Version == codec.V5 {
			p.WillProps = w.Props
		}
	}
	deadline := time.Now().Add(o.DialTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := c.conn.Write(codec.AppendConnect(nil, &p)); err != nil {
		return err
	}
	c.lastWrite.Store(time.Now().UnixNano())
	pkt, t, err := readPacket(r, o.MaxPacketSize)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
			return ErrNoConnack
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return fmt.Errorf("client: no CONNACK within %v", o.DialTimeout)
		}
		return err
	}
	if t != codec.TypeConnack {
		return fmt.Errorf("%w: %v before CONNACK", ErrProtocol, t)
	}
	var ca codec.Connack
	if _, err := codec.DecodeConnack(pkt, o.Version, &ca); err != nil {
		return fmt.Errorf("%w: CONNACK: %v", ErrProtocol, err)
	}
	if ca.ReasonCode != 0 {
		return &ConnackError{Version: o.Version, Code: ca.ReasonCode, Reason: string(ca.Props.ReasonString)}
	}
	c.connack = Connack{SessionPresent: ca.SessionPresent, Props: ca.Props}
	quota := 65535
	if ca.Props.Has(codec.PropReceiveMaximum) && ca.Props.ReceiveMaximum > 0 {
		quota = int(ca.Props.ReceiveMaximum)
	}
	c.sendQuota = make(chan struct{}, quota)
	return c.conn.SetDeadline(time.Time{})
}

// keepAlive is the keep alive in force: the broker's Server Keep Alive if
// it sent one, else ours.
func (c *Client) keepAlive() time.Duration {
	if c.connack.Props.Has(codec.PropServerKeepAlive) {
		return time.Duration(c.connack.Props.ServerKeepAlive) * time.Second
	}
	return time.Duration(c.opts.KeepAlive) * time.Second
}

// Connack returns what the broker said when it accepted the connection.
func (c *Client) Connack() Connack { return c.connack }

// Messages delivers the messages the broker sends. It is closed when the
// connection ends (see Err).
func (c *Client) Messages() <-chan *Message { return c.msgs }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the connection ended: nil while it is up, ErrClientClosed
// after Close or Disconnect, else the broker's DISCONNECT
// (*DisconnectError), ErrClosed, ErrPingTimeout or a network error.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Publish sends m and, for QoS 1 and 2, waits until the broker has
// acknowledged it (PUBACK; PUBREC then PUBCOMP). A failure reason code in
// MQTT 5 is a *ReasonError.
func (c *Client) Publish(ctx context.Context, m *Message) error {
	if m.QoS > 2 {
		return fmt.Errorf("client: QoS %d (want 0, 1 or 2)", m.QoS)
	}
	p := codec.Publish{QoS: m.QoS, Retain: m.Retain, Topic: []byte(m.Topic), Payload: m.Payload}
	if c.opts.Version == codec.V5 {
		p.Props = m.Props
	}
	if err := c.allowed(&p); err != nil {
		return err
	}
	if m.QoS == 0 {
		return c.write(func(b []byte) []byte { return codec.AppendPublish(b, c.opts.Version, &p) })
	}
	select {
	case c.sendQuota <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.Err()
	}
	defer func() { <-c.sendQuota }()
	id, ch, err := c.register()
	if err != nil {
		return err
	}
	p.PacketID = id
	if err := c.write(func(b []byte) []byte { return codec.AppendPublish(b, c.opts.Version, &p) }); err != nil {
		c.unregister(id)
		return err
	}
	r, err := c.await(ctx, id, ch)
	if err != nil {
		return err
	}
	if r.code >= 0x80 {
		name := "PUBACK"
		if m.QoS == 2 {
			name = "PUBREC"
		}
		return &ReasonError{Packet: name, Code: r.code, Reason: r.reason}
	}
	return nil
}

// allowed checks p against what the broker's CONNACK said it accepts, so a
// message it would answer with a DISCONNECT is refused here with a reason.
func (c *Client) allowed(p *codec.Publish) error {
	ca := &c.connack.Props
	if ca.Has(codec.PropMaximumQoS) && p.QoS > ca.MaximumQoS {
		return fmt.Errorf("client: QoS %d is above the broker's maximum QoS %d", p.QoS, ca.MaximumQoS)
	}
	if p.Retain && ca.Has(codec.PropRetainAvailable) && ca.RetainAvailable == 0 {
		return errors.New("client: the broker does not accept retained messages")
	}
	if ca.Has(codec.PropMaximumPacketSize) && ca.MaximumPacketSize > 0 {
		if n := codec.SizePublish(c.opts.Version, p); n > int(ca.MaximumPacketSize) {
			return fmt.Errorf("client: the message is %d bytes, above the broker's maximum packet size of %d", n, ca.MaximumPacketSize)
		}
	}
	return nil
}

// Subscribe sends one SUBSCRIBE and returns the SUBACK's reason codes, one
// per filter (0x80 and above: refused). props carries MQTT 5 properties
// (subscription identifier, user properties); nil for none.
func (c *Client) Subscribe(ctx context.Context, subs []codec.Subscription, props *codec.Properties) ([]codec.ReasonCode, error) {
	id, ch, err := c.register()
	if err != nil {
		return nil, err
	}
	p := codec.Subscribe{PacketID: id, Filters: subs}
	if props != nil && c.opts.Version == codec.V5 {
		p.Props = *props
	}
	if err := c.write(func(b []byte) []byte { return codec.AppendSubscribe(b, c.opts.Version, &p) }); err != nil {
		c.unregister(id)
		return nil, err
	}
	r, err := c.await(ctx, id, ch)
	if err != nil {
		return nil, err
	}
	if len(r.codes) != len(subs) {
		return r.codes, fmt.Errorf("%w: SUBACK with %d reason codes for %d filters", ErrProtocol, len(r.codes), len(subs))
	}
	return r.codes, nil
}

// Unsubscribe sends one UNSUBSCRIBE and waits for its UNSUBACK; it returns
// the MQTT 5 reason codes (none in 3.1.1).
func (c *Client) Unsubscribe(ctx context.Context, filters ...string) ([]codec.ReasonCode, error) {
	id, ch, err := c.register()
	if err != nil {
		return nil, err
	}
	p := codec.Unsubscribe{PacketID: id}
	for _, f := range filters {
		p.Filters = append(p.Filters, []byte(f))
	}
	if err := c.write(func(b []byte) []byte { return codec.AppendUnsubscribe(b, c.opts.Version, &p) }); err != nil {
		c.unregister(id)
		return nil, err
	}
	r, err := c.await(ctx, id, ch)
	if err != nil {
		return nil, err
	}
	return r.codes, nil
}

// Disconnect sends DISCONNECT (normal disconnection: the broker drops the
// will) and closes the connection.
func (c *Client) Disconnect() error {
	err := c.write(func(b []byte) []byte { return codec.AppendDisconnect(b, c.opts.Version, &codec.Disconnect{}) })
	c.Close()
	return err
}

// Close closes the connection without DISCONNECT (the broker publishes the
// will, if any) and waits for the read loop to end.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.quit)
		_ = c.conn.Close()
	})
	<-c.done
}

// write encodes one packet with enc into the write buffer and sends it.
func (c *Client) write(enc func([]byte) []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = enc(c.wbuf[:0])
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.conn.Write(c.wbuf)
	if err != nil {
		if e := c.Err(); e != nil {
			return e
		}
		return err
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return nil
}

// register takes a free packet identifier and the channel its reply will
// come on.
func (c *Client) register() (uint16, chan reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, nil, c.err
	}
	for range 65535 {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if _, busy := c.pending[c.nextID]; !busy {
			ch := make(chan reply, 1)
			c.pending[c.nextID] = ch
			return c.nextID, ch, nil
		}
	}
	return 0, nil, ErrPacketIDs
}

func (c *Client) unregister(id uint16) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// await waits for the reply to request id.
func (c *Client) await(ctx context.Context, id uint16, ch chan reply) (reply, error) {
	select {
	case r := <-ch:
		return r, r.err
	case <-ctx.Done():
		c.unregister(id)
		return reply{}, ctx.Err()
	}
}

// complete hands r to the request waiting on id, if any.
func (c *Client) complete(id uint16, r reply) {
	c.mu.Lock()
	ch, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ok {
		ch <- r
	}
}

package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// readPacket reads one whole packet; the returned slice is the packet's own
// allocation. A packet over max bytes is an error before its body is read.
func readPacket(r *bufio.Reader, max int) ([]byte, codec.Type, error) {
	var hdr [5]byte
	n := 0
	for {
		b, err := r.ReadByte()
		if err != nil {
			if n > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		hdr[n] = b
		n++
		if n >= 2 && b&0x80 == 0 {
			break
		}
		if n == len(hdr) {
			return nil, 0, fmt.Errorf("%w: %v", ErrProtocol, codec.ErrMalformedRemainingLength)
		}
	}
	t, _, total, err := codec.PacketLen(hdr[:n], max)
	if err != nil && !errors.Is(err, codec.ErrIncomplete) {
		return nil, t, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	pkt := make([]byte, total)
	copy(pkt, hdr[:n])
	if _, err := io.ReadFull(r, pkt[n:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, t, err
	}
	return pkt, t, nil
}

// readLoop reads and handles packets until the connection ends, then
// records why, fails the waiting requests and closes Messages.
func (c *Client) readLoop(r *bufio.Reader) {
	var err error
	for err == nil {
		var pkt []byte
		var t codec.Type
		pkt, t, err = readPacket(r, c.opts.MaxPacketSize)
		if err == nil {
			err = c.handle(t, pkt)
		}
	}
	c.finish(err)
}

// finish ends the connection with the error that ended the read loop.
// Read loop only.
func (c *Client) finish(err error) {
	select {
	case <-c.quit:
		err = ErrClientClosed
	default:
		if c.pingLate.Load() {
			err = ErrPingTimeout
		} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = ErrClosed
		}
	}
	_ = c.conn.Close()
	c.mu.Lock()
	c.closed, c.err = true, err
	pending := c.pending
	c.pending = map[uint16]chan reply{}
	c.mu.Unlock()
	for _, ch := range pending {
		ch <- reply{err: err}
	}
	close(c.msgs)
	close(c.done)
}

// handle processes one packet from the broker; an error ends the
// connection.
func (c *Client) handle(t codec.Type, pkt []byte) error {
	v := c.opts.Version
	switch t {
	case codec.TypePublish:
		var p codec.Publish
		if _, err := codec.DecodePublish(pkt, v, &p); err != nil {
			return fmt.Errorf("%w: PUBLISH: %v", ErrProtocol, err)
		}
		return c.onPublish(&p)
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		var a codec.Ack
		if _, err := codec.DecodeAck(pkt, v, &a); err != nil {
			return fmt.Errorf("%w: %v: %v", ErrProtocol, t, err)
		}
		return c.onAck(&a)
	case codec.TypeSuback:
		var s codec.Suback
		if _, err := codec.DecodeSuback(pkt, v, &s); err != nil {
			return fmt.Errorf("%w: SUBACK: %v", ErrProtocol, err)
		}
		c.complete(s.PacketID, reply{codes: s.ReasonCodes, reason: string(s.Props.ReasonString)})
	case codec.TypeUnsuback:
		var u codec.Unsuback
		if _, err := codec.DecodeUnsuback(pkt, v, &u); err != nil {
			return fmt.Errorf("%w: UNSUBACK: %v", ErrProtocol, err)
		}
		c.complete(u.PacketID, reply{codes: u.ReasonCodes})
	case codec.TypePingresp:
		c.pingSent.Store(0)
	case codec.TypeDisconnect:
		var d codec.Disconnect
		if _, err := codec.DecodeDisconnect(pkt, v, &d); err != nil {
			return fmt.Errorf("%w: DISCONNECT: %v", ErrProtocol, err)
		}
		return &DisconnectError{Code: d.ReasonCode, Reason: string(d.Props.ReasonString)}
	default:
		return fmt.Errorf("%w: %v", ErrProtocol, t)
	}
	return nil
}

// onPublish delivers a received message and acknowledges it; a QoS 2
// message is delivered once however often the broker resends it before
// PUBREL.
func (c *Client) onPublish(p *codec.Publish) error {
	m := &Message{Topic: string(p.Topic), Payload: p.Payload, QoS: p.QoS, Retain: p.Retain, Dup: p.Dup, PacketID: p.PacketID, Props: p.Props}
	v := c.opts.Version
	switch p.QoS {
	case 2:
		if !c.inQoS2[p.PacketID] {
			if !c.deliver(m) {
				return ErrClientClosed
			}
			c.inQoS2[p.PacketID] = true
		}
		return c.write(func(b []byte) []byte {
			return codec.AppendAck(b, v, &codec.Ack{Type: codec.TypePubrec, PacketID: p.PacketID})
		})
	case 1:
		if !c.deliver(m) {
			return ErrClientClosed
		}
		return c.write(func(b []byte) []byte {
			return codec.AppendAck(b, v, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})
		})
	}
	if !c.deliver(m) {
		return ErrClientClosed
	}
	return nil
}

// deliver puts m on Messages; false if the client was closed meanwhile.
func (c *Client) deliver(m *Message) bool {
	select {
	case c.msgs <- m:
		return true
	case <-c.quit:
		return false
	}
}

// onAck handles PUBACK, PUBREC, PUBREL and PUBCOMP.
func (c *Client) onAck(a *codec.Ack) error {
	v := c.opts.Version
	switch a.Type {
	case codec.TypePubrel:
		delete(c.inQoS2, a.PacketID)
		return c.write(func(b []byte) []byte {
			return codec.AppendAck(b, v, &codec.Ack{Type: codec.TypePubcomp, PacketID: a.PacketID})
		})
	case codec.TypePubrec:
		if a.ReasonCode >= 0x80 {
			c.complete(a.PacketID, reply{code: a.ReasonCode, reason: string(a.Props.ReasonString)})
			return nil
		}
		return c.write(func(b []byte) []byte {
			return codec.AppendAck(b, v, &codec.Ack{Type: codec.TypePubrel, PacketID: a.PacketID})
		})
	default: // PUBACK, PUBCOMP
		c.complete(a.PacketID, reply{code: a.ReasonCode, reason: string(a.Props.ReasonString)})
	}
	return nil
}

// keepAliveLoop sends PINGREQ when nothing was sent for half the keep
// alive, and closes the connection when a PINGREQ has had no answer for a
// whole keep alive.
func (c *Client) keepAliveLoop(ka time.Duration) {
	tick := time.NewTicker(ka / 4)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case now := <-tick.C:
			if sent := c.pingSent.Load(); sent != 0 {
				if now.Sub(time.Unix(0, sent)) > ka {
					c.pingLate.Store(true)
					_ = c.conn.Close()
					return
				}
				continue
			}
			if now.Sub(time.Unix(0, c.lastWrite.Load())) >= ka/2 {
				c.pingSent.Store(now.UnixNano())
				_ = c.write(codec.AppendPingreq)
			}
		}
	}
}

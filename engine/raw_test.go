package engine

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// rawConn is a hand-driven MQTT connection for tests that need exact bytes.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t testing.TB, b *Broker) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	noErr(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	_ = r.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.nc.Write(b)
	noErr(r.t, err)
}

// read returns the next whole packet, or nil and the error.
func (r *rawConn) read(d time.Duration) ([]byte, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(d))
	hdr, err := r.r.Peek(2)
	if err != nil {
		return nil, err
	}
	_ = hdr
	var n int
	for i := 2; i <= 5; i++ {
		h, err := r.r.Peek(i)
		if err != nil {
			return nil, err
		}
		_, _, n, err = codec.PacketLen(h, 0)
		if err == nil || (err == codec.ErrIncomplete && n > 0) {
			break
		}
	}
	pkt := make([]byte, n)
	_, err = io.ReadFull(r.r, pkt)
	return pkt, err
}

// mustRead returns the next packet and checks its type.
func (r *rawConn) mustRead(want codec.Type) []byte {
	r.t.Helper()
	pkt, err := r.read(5 * time.Second)
	noErr(r.t, err, "reading", want)
	equal(r.t, codec.Type(pkt[0]>>4), want, "packet type")
	return pkt
}

// expectClosed checks that the broker closes the connection within d.
func (r *rawConn) expectClosed(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_, err := r.read(time.Until(deadline))
		if err == io.EOF || isReset(err) {
			return
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			break
		}
	}
	r.t.Fatal("connection not closed in time")
}

func isReset(err error) bool {
	if err == nil {
		return false
	}
	var oe *net.OpError
	ok := false
	if e, is := err.(*net.OpError); is {
		oe, ok = e, true
	}
	return ok && oe.Op == "read"
}

// connect sends CONNECT and returns the CONNACK.
func (r *rawConn) connect(p *codec.Connect) *codec.Connack {
	r.t.Helper()
	if p.Version == 0 {
		p.Version = codec.V311
	}
	if len(p.ProtocolName) == 0 {
		p.ProtocolName = []byte("MQTT")
		if p.Version == codec.V31 {
			p.ProtocolName = []byte("MQIsdp")
		}
	}
	r.write(codec.AppendConnect(nil, p))
	pkt := r.mustRead(codec.TypeConnack)
	var ack codec.Connack
	_, err := codec.DecodeConnack(pkt, p.Version, &ack)
	noErr(r.t, err)
	return &ack
}

func (r *rawConn) subscribe(pid uint16, filter string, qos byte) *codec.Suback {
	r.t.Helper()
	r.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: pid,
		Filters: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}))
	pkt := r.mustRead(codec.TypeSuback)
	var ack codec.Suback
	_, err := codec.DecodeSuback(pkt, codec.V311, &ack)
	noErr(r.t, err)
	equal(r.t, ack.PacketID, pid)
	return &ack
}

func (r *rawConn) publish(p *codec.Publish) {
	r.t.Helper()
	r.write(codec.AppendPublish(nil, codec.V311, p))
}

func decodePublish(t testing.TB, pkt []byte) *codec.Publish {
	t.Helper()
	var p codec.Publish
	_, err := codec.DecodePublish(pkt, codec.V311, &p)
	noErr(t, err)
	return &p
}

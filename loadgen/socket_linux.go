//go:build linux

package loadgen

import "golang.org/x/sys/unix"

// segmentsNote is empty: Linux reports TCP segment counts (TCP_INFO).
const segmentsNote = ""

// newSocket opens a non-blocking, close-on-exec TCP socket in one call.
func newSocket(family int) (int, error) {
	return unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// bindAddressNoPort lets a bind to a source address leave the port to
// connect(), which picks it with the full 4-tuple.
func bindAddressNoPort(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
}

// tcpSegments returns segs_out + segs_in of the socket fd (0 if unknown).
func tcpSegments(fd int) int64 {
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0
	}
	return int64(ti.Segs_out) + int64(ti.Segs_in)
}

// fileLimitCap returns hard: Linux accepts any soft limit up to the hard one.
func fileLimitCap(hard uint64) uint64 { return hard }

//go:build linux

package uring

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING): count
// buffers of size bytes that the kernel picks from for a RECV with
// SqeBufferSelect in group Group, and that the ring's owner hands back
// with Recycle once it has copied or consumed what one holds.
type BufRing struct {
	Group uint16
	size  int
	mask  uint16
	ring  []byte // count io_uring_buf entries; the tail is in entry 0
	tail  *uint16
	local uint16 // entries added, not yet published
	data  []byte // count*size bytes, mmap'd: the kernel writes here
}

// bufEntry is struct io_uring_buf.
type bufEntry struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// NewBufRing registers a buffer ring of count (a power of two, at most
// 32768) buffers of size bytes as group, and provides every buffer.
func (r *Ring) NewBufRing(group uint16, count, size int) (*BufRing, error) {
	if count <= 0 || count > 1<<15 || count&(count-1) != 0 {
		return nil, fmt.Errorf("uring: buffer count %d is not a power of two up to 32768", count)
	}
	ringMem, err := unix.Mmap(-1, 0, count*16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("uring: buffer ring: %w", err)
	}
	data, err := unix.Mmap(-1, 0, count*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE)
	if err != nil {
		_ = unix.Munmap(ringMem)
		return nil, fmt.Errorf("uring: buffers: %w", err)
	}
	// struct io_uring_buf_reg { u64 ring_addr; u32 ring_entries; u16 bgid; u16 flags; u64 resv[3]; }
	var reg struct {
		ringAddr    uint64
		ringEntries uint32
		bgid        uint16
		flags       uint16
		resv        [3]uint64
	}
	reg.ringAddr = uint64(uintptr(unsafe.Pointer(&ringMem[0])))
	reg.ringEntries = uint32(count)
	reg.bgid = group
	if err := r.register(registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		_ = unix.Munmap(ringMem)
		_ = unix.Munmap(data)
		return nil, fmt.Errorf("%w: provided buffer ring: %v", ErrUnsupported, err)
	}
	b := &BufRing{Group: group, size: size, mask: uint16(count - 1), ring: ringMem, data: data,
		tail: (*uint16)(unsafe.Pointer(&ringMem[14]))}
	for i := 0; i < count; i++ {
		b.add(uint16(i))
	}
	b.Publish()
	return b, nil
}

// Buf returns the first n bytes of buffer id.
func (b *BufRing) Buf(id uint16, n int) []byte {
	off := int(id) * b.size
	return b.data[off : off+n : off+b.size]
}

func (b *BufRing) add(id uint16) {
	e := (*bufEntry)(unsafe.Pointer(&b.ring[int(b.local&b.mask)*16]))
	e.addr = uint64(uintptr(unsafe.Pointer(&b.data[int(id)*b.size])))
	e.len = uint32(b.size)
	e.bid = id
	b.local++
}

// Recycle hands buffer id back; Publish makes it visible to the kernel.
func (b *BufRing) Recycle(id uint16) { b.add(id) }

// Publish makes the recycled buffers available to the kernel.
func (b *BufRing) Publish() {
	// The tail is a u16 inside entry 0; the kernel reads it with an
	// acquire load. Store it with a 32-bit atomic on its aligned word
	// (bytes 12..15: resv of entry 0 is the tail), keeping entry 0's
	// bid (bytes 12..13) as it is.
	word := (*uint32)(unsafe.Pointer(&b.ring[12]))
	for {
		old := atomic.LoadUint32(word)
		nw := old&0xffff | uint32(b.local)<<16
		if atomic.CompareAndSwapUint32(word, old, nw) {
			return
		}
	}
}

// Close releases the buffers; the ring must be unregistered (or closed)
// first.
func (b *BufRing) Close(r *Ring) {
	if r != nil && r.fd >= 0 {
		var reg struct {
			ringAddr    uint64
			ringEntries uint32
			bgid        uint16
			flags       uint16
			resv        [3]uint64
		}
		reg.bgid = b.Group
		_ = r.register(unregisterPbufRing, unsafe.Pointer(&reg), 1)
	}
	_ = unix.Munmap(b.ring)
	_ = unix.Munmap(b.data)
}

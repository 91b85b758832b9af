//go:build linux

// Package uring is a minimal io_uring ring for the broker's network loops:
// set-up, the submission and completion queues, io_uring_enter, and
// provided-buffer rings. It is written on the raw system calls of
// golang.org/x/sys/unix and covers only what the loops use: RECV (multishot,
// with buffer select), SEND, SENDMSG, READ (the loop's eventfd), ASYNC_CANCEL and NOP.
//
// A Ring belongs to one goroutine, locked to its thread: it is created with
// IORING_SETUP_SINGLE_ISSUER and IORING_SETUP_DEFER_TASKRUN where the
// kernel has them, so completions are produced only while that goroutine
// waits in Enter, and every submission and completion is handled there.
//
// Memory ordering. The kernel reads the submission tail and writes the
// submission head; it writes the completion tail and reads the completion
// head. The ring's side of each index is published with an atomic store
// after the entries it covers are written (release), and the kernel's side
// is read with an atomic load before the entries it covers are read
// (acquire); sync/atomic's operations are sequentially consistent, which is
// at least that.
package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Opcodes (enum io_uring_op).
const (
	OpNop         uint8 = 0
	OpSendmsg     uint8 = 9
	OpAsyncCancel uint8 = 14
	OpRead        uint8 = 22
	OpSend        uint8 = 26
	OpRecv        uint8 = 27
	OpShutdown    uint8 = 34
)

// Submission entry flags (IOSQE_*).
const (
	SqeBufferSelect uint8 = 1 << 5
	SqeCQESkip      uint8 = 1 << 6
)

// RECV/SEND ioprio flags (IORING_RECVSEND_*, IORING_RECV_*).
const (
	RecvMultishot uint16 = 1 << 1
)

// Completion flags (IORING_CQE_F_*).
const (
	CQEBuffer   uint32 = 1 << 0 // the upper 16 bits are the buffer id
	CQEMore     uint32 = 1 << 1 // a multishot request stays armed
	CQEBufShift        = 16
)

// Set-up flags (IORING_SETUP_*).
const (
	setupCQSize       uint32 = 1 << 3
	setupClamp        uint32 = 1 << 4
	setupSubmitAll    uint32 = 1 << 7
	setupCoopTaskrun  uint32 = 1 << 8
	setupSingleIssuer uint32 = 1 << 12
	setupDeferTaskrun uint32 = 1 << 13
)

// Features (IORING_FEAT_*).
const (
	featSingleMmap   uint32 = 1 << 0
	featNoDrop       uint32 = 1 << 1
	featSubmitStable uint32 = 1 << 2
	featFastPoll     uint32 = 1 << 5
)

const (
	enterGetEvents uint32 = 1 << 0

	offSQRing uint64 = 0
	offCQRing uint64 = 0x8000000
	offSQEs   uint64 = 0x10000000

	registerPbufRing   = 22
	unregisterPbufRing = 23
	registerProbe      = 8

	sqeSize = 64
	cqeSize = 16
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// SQE is a submission queue entry (struct io_uring_sqe, 64 bytes).
type SQE struct {
	Opcode   uint8
	Flags    uint8
	Ioprio   uint16
	Fd       int32
	Off      uint64
	Addr     uint64
	Len      uint32
	OpFlags  uint32
	UserData uint64
	BufGroup uint16
	_        uint16
	_        uint32
	_        [2]uint64
}

// CQE is a completion queue entry (struct io_uring_cqe, 16 bytes).
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// Ring is one io_uring instance. Not safe for concurrent use.
type Ring struct {
	fd       int
	features uint32

	sqMem, cqMem, sqeMem []byte

	sqHead, sqTail *uint32
	sqMask         uint32
	sqEntries      uint32
	sqes           []SQE
	sqTailLocal    uint32 // entries prepared, not yet published

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []CQE

	submitted uint64 // entries handed to the kernel
	enters    uint64 // io_uring_enter calls
}

// ErrUnsupported is returned by New when the kernel refuses io_uring or a
// feature the loops need; the error it wraps says which.
var ErrUnsupported = errors.New("io_uring unsupported")

// New sets up a ring with sqEntries submission entries (a power of two)
// and cqEntries completion entries. Call it on the goroutine (locked to
// its thread) that will use the ring.
func New(sqEntries, cqEntries uint32) (*Ring, error) {
	p := params{cqEntries: cqEntries,
		flags: setupCQSize | setupClamp | setupSubmitAll | setupCoopTaskrun | setupSingleIssuer | setupDeferTaskrun}
	fd, err := setup(sqEntries, &p)
	if err == unix.EINVAL { // an older kernel: no single issuer / deferred task work
		p = params{cqEntries: cqEntries, flags: setupCQSize | setupClamp | setupSubmitAll}
		fd, err = setup(sqEntries, &p)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnsupported, err)
	}
	r := &Ring{fd: fd, features: p.features}
	if need := featSingleMmap | featNoDrop | featSubmitStable | featFastPoll; p.features&need != need {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("%w: kernel lacks single mmap, no-drop, stable submission or fast poll (features %#x)", ErrUnsupported, p.features)
	}
	if err := r.mmap(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func setup(entries uint32, p *params) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

func (r *Ring) mmap(p *params) error {
	sqSize := uintptr(p.sqOff.array) + uintptr(p.sqEntries)*4
	cqSize := uintptr(p.cqOff.cqes) + uintptr(p.cqEntries)*cqeSize
	size := max(sqSize, cqSize)
	mem, err := unix.Mmap(r.fd, int64(offSQRing), int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("%w: mmap rings: %v", ErrUnsupported, err)
	}
	r.sqMem, r.cqMem = mem, mem
	sqes, err := unix.Mmap(r.fd, int64(offSQEs), int(uintptr(p.sqEntries)*sqeSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("%w: mmap submission entries: %v", ErrUnsupported, err)
	}
	r.sqeMem = sqes
	base := unsafe.Pointer(&mem[0])
	r.sqHead = (*uint32)(unsafe.Add(base, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	r.sqEntries = *(*uint32)(unsafe.Add(base, p.sqOff.ringEntries))
	array := unsafe.Slice((*uint32)(unsafe.Add(base, p.sqOff.array)), r.sqEntries)
	for i := range array {
		array[i] = uint32(i) // entry i of the ring is SQE i
	}
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&sqes[0])), r.sqEntries)
	r.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	cqEntries := *(*uint32)(unsafe.Add(base, p.cqOff.ringEntries))
	r.cqes = unsafe.Slice((*CQE)(unsafe.Add(base, p.cqOff.cqes)), cqEntries)
	r.sqTailLocal = atomic.LoadUint32(r.sqTail)
	return nil
}

// Close releases the ring. Requests still in flight are cancelled by the
// kernel.
func (r *Ring) Close() {
	if r.sqeMem != nil {
		_ = unix.Munmap(r.sqeMem)
		r.sqeMem = nil
	}
	if r.sqMem != nil {
		_ = unix.Munmap(r.sqMem)
		r.sqMem, r.cqMem = nil, nil
	}
	if r.fd >= 0 {
		_ = unix.Close(r.fd)
		r.fd = -1
	}
}

// GetSQE returns the next free submission entry, zeroed, or nil when the
// queue is full (Submit, then try again).
func (r *Ring) GetSQE() *SQE {
	head := atomic.LoadUint32(r.sqHead)
	if r.sqTailLocal-head >= r.sqEntries {
		return nil
	}
	e := &r.sqes[r.sqTailLocal&r.sqMask]
	*e = SQE{}
	r.sqTailLocal++
	return e
}

// Taken reports whether the kernel has consumed every prepared entry:
// with stable submission (IORING_FEAT_SUBMIT_STABLE) what an entry points
// to (a SENDMSG's message header and iovecs) may then be reused.
func (r *Ring) Taken() bool { return atomic.LoadUint32(r.sqHead) == r.sqTailLocal }

// Pending is the number of prepared entries not yet submitted.
func (r *Ring) Pending() uint32 { return r.sqTailLocal - atomic.LoadUint32(r.sqTail) }

// publish makes the prepared entries visible to the kernel.
func (r *Ring) publish() uint32 {
	n := r.sqTailLocal - atomic.LoadUint32(r.sqTail)
	if n > 0 {
		atomic.StoreUint32(r.sqTail, r.sqTailLocal)
	}
	return n
}

// Enter submits the prepared entries and, when wait > 0, waits until at
// least wait completions are ready. EINTR is returned to the caller.
func (r *Ring) Enter(wait uint32) error {
	n := r.publish()
	var flags uint32
	if wait > 0 {
		flags = enterGetEvents
	}
	if n == 0 && wait == 0 {
		return nil
	}
	r.enters++
	got, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(n), uintptr(wait), uintptr(flags), 0, 0)
	if errno != 0 {
		return errno
	}
	r.submitted += uint64(got)
	return nil
}

// Flush runs deferred completion work without waiting and without
// submitting (so that Ready sees what is done).
func (r *Ring) Flush() error {
	n := r.publish()
	r.enters++
	got, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(n), 0, uintptr(enterGetEvents), 0, 0)
	if errno != 0 {
		return errno
	}
	r.submitted += uint64(got)
	return nil
}

// Completions calls fn for every completion ready, then frees them.
func (r *Ring) Completions(fn func(c *CQE)) int {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail; head++ {
		fn(&r.cqes[head&r.cqMask])
		n++
		if n&63 == 0 { // free slots as we go: fn may submit and wait
			atomic.StoreUint32(r.cqHead, head+1)
		}
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}

// Next returns the oldest ready completion, or nil; Advance frees it.
func (r *Ring) Next() *CQE {
	head := atomic.LoadUint32(r.cqHead)
	if head == atomic.LoadUint32(r.cqTail) {
		return nil
	}
	return &r.cqes[head&r.cqMask]
}

// Advance frees the completion Next returned.
func (r *Ring) Advance() { atomic.StoreUint32(r.cqHead, atomic.LoadUint32(r.cqHead)+1) }

// Counters reports the entries submitted and the io_uring_enter calls made.
func (r *Ring) Counters() (submitted, enters uint64) { return r.submitted, r.enters }

// register calls io_uring_register.
func (r *Ring) register(op uintptr, arg unsafe.Pointer, n uintptr) error {
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), n, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// ProbeOps reports whether the kernel supports every opcode in ops.
func (r *Ring) ProbeOps(ops ...uint8) error {
	// struct io_uring_probe { u8 last_op; u8 ops_len; u16 resv; u32 resv2[3];
	// struct io_uring_probe_op ops[]; } with ops of { u8 op; u8 resv; u16 flags; u32 resv2; }.
	const nOps = 256
	buf := make([]byte, 16+nOps*8)
	if err := r.register(registerProbe, unsafe.Pointer(&buf[0]), nOps); err != nil {
		return fmt.Errorf("%w: probe: %v", ErrUnsupported, err)
	}
	last := buf[0]
	for _, op := range ops {
		if op > last || buf[16+int(op)*8+2]&1 == 0 { // IO_URING_OP_SUPPORTED
			return fmt.Errorf("%w: opcode %d", ErrUnsupported, op)
		}
	}
	return nil
}

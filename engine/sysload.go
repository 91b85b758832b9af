package engine

import (
	"math"
	"runtime/metrics"
	"strconv"
	"time"
)

// The $SYS load averages, with Mosquitto's names and meaning: for each
// counter, exponentially weighted moving averages of its rate per minute
// over 1, 5 and 15 minutes, updated at each $SYS publication.

// sysLoadCounters name the counters averaged, as in
// $SYS/broker/load/<name>/1min; value reads each from a snapshot.
var sysLoadCounters = [...]struct {
	name  string
	value func(*SysStats) uint64
}{
	{name: "messages/received", value: func(s *SysStats) uint64 { return s.MessagesReceived }},
	{name: "messages/sent", value: func(s *SysStats) uint64 { return s.MessagesSent }},
	{name: "publish/received", value: func(s *SysStats) uint64 { return s.PublishReceived }},
	{name: "publish/sent", value: func(s *SysStats) uint64 { return s.PublishSent }},
	{name: "publish/dropped", value: func(s *SysStats) uint64 { return s.PublishDropped }},
	{name: "bytes/received", value: func(s *SysStats) uint64 { return s.BytesReceived }},
	{name: "bytes/sent", value: func(s *SysStats) uint64 { return s.BytesSent }},
	{name: "connections", value: func(s *SysStats) uint64 { return s.Connects }},
}

// sysLoadWindows are the averaging windows and their topic suffixes.
var sysLoadWindows = [3]struct {
	suffix string
	period time.Duration
}{{suffix: "1min", period: time.Minute}, {suffix: "5min", period: 5 * time.Minute}, {suffix: "15min", period: 15 * time.Minute}}

// sysLoad is the averages' state. Touched only by publishSys (the first
// loop).
type sysLoad struct {
	at   time.Time // last update; zero before the first
	last [len(sysLoadCounters)]uint64
	avg  [len(sysLoadCounters)][3]float64 // per minute
}

// update folds the counters of st, read at now, into the averages; the
// first update counts from start, when every counter was 0.
func (sl *sysLoad) update(st *SysStats, start, now time.Time) {
	if sl.at.IsZero() {
		sl.at = start
	}
	dt := now.Sub(sl.at)
	sl.at = now
	for i, c := range sysLoadCounters {
		v := c.value(st)
		delta := v - min(v, sl.last[i])
		sl.last[i] = v
		if dt <= 0 {
			continue
		}
		rate := float64(delta) / dt.Minutes()
		for w, win := range sysLoadWindows {
			k := math.Exp(-float64(dt) / float64(win.period))
			sl.avg[i][w] = sl.avg[i][w]*k + rate*(1-k)
		}
	}
}

// publish retains and routes the averages. Loop-only.
func (sl *sysLoad) publish(l *loop) {
	if sl.at.IsZero() {
		return
	}
	for i, c := range sysLoadCounters {
		for w, win := range sysLoadWindows {
			l.publishSysTopic("$SYS/broker/load/"+c.name+"/"+win.suffix, strconv.FormatFloat(sl.avg[i][w], 'f', 2, 64))
		}
	}
}

// heapBytes is the bytes of live and not yet swept heap objects, read
// without stopping the world.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

package engine

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestSysLoadAverages: a steady 600 messages a minute brings the 1-minute
// average to 600 within a few minutes, the 15-minute one more slowly; a
// stop decays them.
func TestSysLoadAverages(t *testing.T) {
	var sl sysLoad
	var st SysStats
	start := time.Unix(1e9, 0)
	now := start
	for i := 0; i < 5*6; i++ {
		now = now.Add(10 * time.Second)
		st.PublishReceived += 100
		sl.update(&st, start, now)
	}
	avg := sl.avg[2] // publish/received
	if sysLoadCounters[2].name != "publish/received" {
		t.Fatal("counter order changed")
	}
	if math.Abs(avg[0]-600) > 600*math.Exp(-5)+1 || !(avg[1] > 300 && avg[1] < avg[0]) || !(avg[2] > 100 && avg[2] < avg[1]) {
		t.Fatalf("after 5 min at 600/min: %v", avg)
	}
	for i := 0; i < 6; i++ {
		now = now.Add(10 * time.Second)
		sl.update(&st, start, now)
	}
	if got := sl.avg[2][0]; math.Abs(got-avg[0]*math.Exp(-1)) > 1 {
		t.Fatalf("one idle minute: %v, want %v", got, avg[0]*math.Exp(-1))
	}
}

// TestSysLoadTopics: the load averages, the heap and expired sessions are
// published under $SYS with Mosquitto's names.
func TestSysLoadTopics(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.SysInterval = 100 * time.Millisecond })
	w := dialV5(t, b, "expiring", func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 1
		cp.Props.Set(codec.PropSessionExpiry)
	})
	_ = w.nc.Close()
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("p"), CleanStart: true})
	for i := 0; i < 50; i++ {
		p.publish(&codec.Publish{Topic: []byte("x"), Payload: []byte("v")})
	}
	waitFor(t, "the session to expire", func() bool { return b.Stats().ClientsExpired == 1 })
	read := func(topic string) float64 {
		s := dialRaw(t, b)
		s.connect(&codec.Connect{ClientID: []byte("s"), CleanStart: true})
		s.subscribe(1, topic, 0)
		m := decodePublish(t, s.mustRead(codec.TypePublish))
		v, err := strconv.ParseFloat(string(m.Payload), 64)
		if err != nil {
			t.Fatalf("%s = %q", topic, m.Payload)
		}
		_ = s.nc.Close()
		return v
	}
	waitFor(t, "a load average", func() bool { return read("$SYS/broker/load/publish/received/1min") > 0 })
	if v := read("$SYS/broker/heap/current"); v < 1<<16 {
		t.Errorf("heap/current %v", v)
	}
	waitFor(t, "clients/expired", func() bool { return read("$SYS/broker/clients/expired") == 1 })
}

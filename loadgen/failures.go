package loadgen

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/loadgen/client"
)

// maxReasons bounds the distinct failure reasons a run keeps; later new
// ones are counted under reasonOther.
const (
	maxReasons  = 16
	reasonOther = "other failures"
)

// failures counts why clients failed to connect or lost their connection,
// by reason, so a run can say why instead of only how many. Only failure
// paths touch it. Safe from any goroutine.
type failures struct {
	mu sync.Mutex
	m  map[string]int64
}

func (f *failures) add(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]int64{}
	}
	if _, ok := f.m[reason]; !ok && len(f.m) >= maxReasons {
		reason = reasonOther
	}
	f.m[reason]++
}

// String lists the reasons, most frequent first, with their counts.
func (f *failures) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	reasons := make([]string, 0, len(f.m))
	for k := range f.m {
		reasons = append(reasons, k)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if a, b := f.m[reasons[i]], f.m[reasons[j]]; a != b {
			return a > b
		}
		return reasons[i] < reasons[j]
	})
	var b strings.Builder
	for i, k := range reasons {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%d)", k, f.m[k])
	}
	return b.String()
}

// note records why c failed or lost its connection, unless the run is
// ending (closes then are the generator's own). Loop-only.
func (c *conn) note(reason string) {
	if !c.l.r.quit.Load() {
		c.l.r.fails.add(reason)
	}
}

// noteConnack records a refusing CONNACK.
func (c *conn) noteConnack(code codec.ReasonCode) {
	c.note("CONNACK " + client.ConnackText(c.l.r.cfg.Version, code))
}

// noteReason records an acknowledgement or DISCONNECT with its reason code.
func (c *conn) noteReason(packet string, code codec.ReasonCode) {
	c.note(packet + " " + client.ReasonText(code))
}

package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestInteropPahoV5BrokerTopicAlias: a subscriber whose CONNECT allows 2
// Topic Aliases gets aliases 1..2 only [MQTT-3.3.2-11] [MQTT-3.1.2-26]
// (which the client must accept [MQTT-3.3.2-10]), each sent with its topic first and then
// with an empty topic; the third topic always goes in full. QoS 0 and QoS
// 1, from publishers on either loop. A subscriber without a Topic Alias
// Maximum gets no alias [MQTT-3.1.2-27].
func TestInteropPahoV5BrokerTopicAlias(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialPahoV5(t, b, "v5-bta-sub", func(cp *paho.Connect) {
		cp.Properties = &paho.ConnectProperties{TopicAliasMaximum: ptr(uint16(2)), RequestProblemInfo: true}
	})
	sub.subscribe(t, "bta/#", 1)
	plain := dialPahoV5(t, b, "v5-bta-plain", nil)
	plain.subscribe(t, "bta/#", 1)
	pubs := []*pahoV5{dialPahoV5(t, b, "v5-bta-pub1", nil), dialPahoV5(t, b, "v5-bta-pub2", nil)}
	topics := []string{"bta/a", "bta/b", "bta/c"}
	const rounds = 4
	n := 0
	for r := range rounds {
		for qos := byte(0); qos <= 1; qos++ {
			for _, tp := range topics {
				pubs[(r+int(qos))%2].publish(t, &paho.Publish{Topic: tp, QoS: qos, Payload: []byte(tp)})
				n++
			}
		}
	}
	known := map[uint16]string{}
	aliased := 0
	for i := range n {
		p := sub.next(t, 5*time.Second)
		want := string(p.Payload)
		var alias uint16
		if p.Properties != nil && p.Properties.TopicAlias != nil {
			alias = *p.Properties.TopicAlias
		}
		switch {
		case alias == 0:
			equal(t, p.Topic, want, fmt.Sprint("message ", i, " without an alias"))
		case alias > 2:
			t.Fatalf("alias %d above the client's maximum 2 [MQTT-3.3.2-11]", alias)
		case p.Topic != "":
			equal(t, p.Topic, want)
			if old, ok := known[alias]; ok {
				equal(t, old, want, "alias remapped")
			}
			known[alias] = p.Topic
		default:
			got, ok := known[alias]
			check(t, ok, "alias", alias, "used before it was sent with its topic")
			equal(t, got, want, "alias resolves to the wrong topic")
			aliased++
		}
	}
	equal(t, len(known), 2, "aliases assigned")
	check(t, aliased >= n-3-rounds*2, "too few messages sent by alias alone:", aliased, "of", n)
	for range n {
		p := plain.next(t, 5*time.Second)
		equal(t, p.Topic, string(p.Payload))
		check(t, p.Properties == nil || p.Properties.TopicAlias == nil, "alias sent to a client that allows none")
	}
}

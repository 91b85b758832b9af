package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestInteropMixedV3ToV5: a paho.mqtt.golang 3.1.1 publisher reaches a
// paho.golang v5 subscriber at QoS 0, 1 and 2, with the QoS the
// subscription grants [MQTT-3.8.4-8], and its retained message reaches a
// later v5 subscriber with RETAIN 1; the v5 subscriber sees no properties
// the publisher could not have sent.
func TestInteropMixedV3ToV5(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialPahoV5(t, b, "mix35-sub", nil)
	sub.subscribe(t, "mix35/#", 2)
	pub := pahoClient(t, b, "mix35-pub", nil)
	for qos := byte(0); qos <= 2; qos++ {
		payload := fmt.Sprint("q", qos)
		publish(t, pub, "mix35/x", qos, false, payload)
		p := sub.next(t, 5*time.Second)
		equal(t, p.Topic, "mix35/x")
		equal(t, string(p.Payload), payload)
		equal(t, p.QoS, qos, "delivered QoS")
		check(t, !p.Retain, "RETAIN on a live message")
		check(t, p.Properties == nil || (len(p.Properties.User) == 0 && p.Properties.ContentType == ""),
			"properties invented for a 3.1.1 message", p.Properties)
	}
	publish(t, pub, "mix35/ret", 1, true, "kept")
	equal(t, string(sub.next(t, 5*time.Second).Payload), "kept")
	late := dialPahoV5(t, b, "mix35-late", nil)
	late.subscribe(t, "mix35/ret", 1)
	p := late.next(t, 5*time.Second)
	equal(t, string(p.Payload), "kept")
	check(t, p.Retain, "retained message without RETAIN")
	equal(t, p.QoS, byte(1))
}

// TestInteropMixedV5ToV3: a paho.golang v5 publisher sending every message
// property reaches a paho.mqtt.golang 3.1.1 subscriber at QoS 0, 1 and 2
// (the properties dropped, topic and payload unchanged, including a topic
// set through a Topic Alias); its retained message, stored with
// properties, reaches a later 3.1.1 subscriber with RETAIN 1.
func TestInteropMixedV5ToV3(t *testing.T) {
	b := startBroker(t, nil)
	col := newCollector()
	sub := pahoClient(t, b, "mix53-sub", nil)
	subscribe(t, sub, "mix53/#", 2, col)
	pub := dialPahoV5(t, b, "mix53-pub", nil)
	props := func() *paho.PublishProperties {
		return &paho.PublishProperties{PayloadFormat: ptr(byte(1)), MessageExpiry: ptr(uint32(600)),
			ContentType: "text/plain", ResponseTopic: "mix53/reply", CorrelationData: []byte{1, 2},
			User: paho.UserProperties{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}}}
	}
	for qos := byte(0); qos <= 2; qos++ {
		pub.publish(t, &paho.Publish{Topic: "mix53/x", QoS: qos, Payload: []byte(fmt.Sprint("q", qos)), Properties: props()})
	}
	pr := props()
	pr.TopicAlias = ptr(uint16(1))
	pub.publish(t, &paho.Publish{Topic: "mix53/aliased", QoS: 1, Payload: []byte("a1"), Properties: pr})
	pub.publish(t, &paho.Publish{QoS: 1, Payload: []byte("a2"), Properties: &paho.PublishProperties{TopicAlias: ptr(uint16(1))}})
	msgs := col.wait(t, 5, 5*time.Second)
	want := []struct {
		topic, payload string
		qos            byte
	}{
		{topic: "mix53/x", payload: "q0", qos: 0}, {topic: "mix53/x", payload: "q1", qos: 1}, {topic: "mix53/x", payload: "q2", qos: 2},
		{topic: "mix53/aliased", payload: "a1", qos: 1}, {topic: "mix53/aliased", payload: "a2", qos: 1},
	}
	for i, w := range want {
		equal(t, msgs[i].Topic(), w.topic, i)
		equal(t, string(msgs[i].Payload()), w.payload, i)
		equal(t, msgs[i].Qos(), w.qos, i)
		check(t, !msgs[i].Retained(), "RETAIN on a live message")
	}

	pub.publish(t, &paho.Publish{Topic: "mix53/ret", QoS: 2, Retain: true, Payload: []byte("kept"), Properties: props()})
	col.wait(t, 6, 5*time.Second)
	late := newCollector()
	lc := pahoClient(t, b, "mix53-late", func(o *mqtt.ClientOptions) { o.SetCleanSession(true) })
	subscribe(t, lc, "mix53/ret", 2, late)
	m := late.wait(t, 1, 5*time.Second)[0]
	equal(t, string(m.Payload()), "kept")
	check(t, m.Retained(), "retained message without RETAIN")
	equal(t, m.Qos(), byte(2))
}

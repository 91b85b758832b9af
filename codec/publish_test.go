package codec

import (
	"testing"
)

func TestPublishHelpers(t *testing.T) {
	for _, v := range versions {
		p := benchPublish(200, v == V5)
		full := AppendPublish(nil, v, p)
		hdr := AppendPublishHeader(nil, v, p)
		if string(append(hdr, p.Payload...)) != string(full) {
			t.Fatalf("v%d: AppendPublishHeader + payload differs from AppendPublish", v)
		}
		if !SetPublishPacketID(full, 0xBEEF) {
			t.Fatal("SetPublishPacketID refused a QoS 1 PUBLISH")
		}
		var d Publish
		if _, err := DecodePublish(full, v, &d); err != nil || d.PacketID != 0xBEEF {
			t.Fatalf("after SetPublishPacketID: %v %#x", err, d.PacketID)
		}
		p.QoS = 0
		if SetPublishPacketID(AppendPublish(nil, v, p), 1) {
			t.Fatal("SetPublishPacketID accepted a QoS 0 PUBLISH")
		}
		if SetPublishPacketID(full[:len(full)-1], 1) || SetPublishPacketID(AppendPingreq(nil), 1) {
			t.Fatal("SetPublishPacketID accepted a partial packet or a PINGREQ")
		}
	}
}

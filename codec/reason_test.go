package codec

import (
	"testing"
)

func TestReasonCodeString(t *testing.T) {
	if s := ReasonPacketTooLarge.String(); s != "packet too large" {
		t.Errorf("got %q", s)
	}
	if s := ReasonCode(0x03).String(); s != "reason 0x03" {
		t.Errorf("got %q", s)
	}
	if ConnackV3FromReason(ReasonNotAuthorized) != ConnackNotAuthorized || ConnackV3FromReason(ReasonQuotaExceeded) != ConnackCloseV3 {
		t.Error("ConnackV3FromReason")
	}
}

package codec

import (
	"errors"
	"fmt"
	"testing"
)

// TestEveryErrorMapsToAReason checks that every exported *Error answers with
// a reason code that 5.0 allows in CONNACK or DISCONNECT.
func TestEveryErrorMapsToAReason(t *testing.T) {
	for _, e := range []*Error{ErrMalformedRemainingLength, ErrMalformedVarint, ErrPacketTooLarge,
		ErrReservedType, ErrUnexpectedType, ErrReservedFlags, ErrMalformed, ErrTrailingData, ErrInvalidQoS,
		ErrDupQoS0, ErrInvalidUTF8, ErrPacketIDZero, ErrProtocolName, ErrUnsupportedVersion,
		ErrConnectReservedFlag, ErrWillFlags, ErrWillQoS, ErrPasswordWithoutUsername, ErrClientIDRejected,
		ErrConnackFlags, ErrSessionPresentRefused, ErrTopicEmpty, ErrTopicWildcard, ErrTopicAliasZero, ErrNoFilters,
		ErrSubscriptionOptions, ErrRetainHandling, ErrNoLocalShared, ErrNoReasonCodes, ErrInvalidReasonCode,
		ErrUnknownProperty, ErrPropertyNotAllowed, ErrDuplicateProperty, ErrPropertyValue,
		ErrMalformedProperties, ErrNotV5} {
		if !ValidReason(TypeConnack, e.ReasonCode) && !ValidReason(TypeDisconnect, e.ReasonCode) {
			t.Errorf("%v: reason %v fits neither CONNACK nor DISCONNECT", e, e.ReasonCode)
		}
		if e.ReasonCode < 0x80 {
			t.Errorf("%v: reason %v is not an error", e, e.ReasonCode)
		}
	}
}

func TestReasonCodeOf(t *testing.T) {
	tests := []struct {
		err    error
		want   ReasonCode
		wantV3 byte
	}{
		{err: nil, want: ReasonSuccess, wantV3: ConnackAccepted},
		{err: ErrInvalidQoS, want: ReasonMalformedPacket, wantV3: ConnackCloseV3},
		{err: ErrPacketIDZero, want: ReasonProtocolError, wantV3: ConnackCloseV3},
		{err: ErrPacketTooLarge, want: ReasonPacketTooLarge, wantV3: ConnackCloseV3},
		{err: ErrUnsupportedVersion, want: ReasonUnsupportedProtocolVersion, wantV3: ConnackUnacceptableProtocol}, // [MQTT-3.1.2-2]
		{err: ErrProtocolName, want: ReasonUnsupportedProtocolVersion, wantV3: ConnackCloseV3},                    // [MQTT-3.1.2-1]
		{err: ErrClientIDRejected, want: ReasonClientIDNotValid, wantV3: ConnackIdentifierRejected},               // [MQTT-3.1.3-8]
		{err: ErrConnectReservedFlag, want: ReasonMalformedPacket, wantV3: ConnackCloseV3},                        // [MQTT-3.1.2-3]
		{err: ErrTopicAliasZero, want: ReasonTopicAliasInvalid, wantV3: ConnackCloseV3},
		{err: fmt.Errorf("wrapped: %w", ErrDuplicateProperty), want: ReasonProtocolError, wantV3: ConnackCloseV3},
		{err: errors.New("other"), want: ReasonUnspecifiedError, wantV3: ConnackCloseV3},
	}
	for _, tt := range tests {
		if got := ReasonCodeOf(tt.err); got != tt.want {
			t.Errorf("ReasonCodeOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
		if got := ConnackCodeV3(tt.err); got != tt.wantV3 {
			t.Errorf("ConnackCodeV3(%v) = %#x, want %#x", tt.err, got, tt.wantV3)
		}
	}
	if s := ErrInvalidQoS.Error(); s != "codec: QoS 3 is not allowed [MQTT-3.3.1-4]" {
		t.Errorf("Error() = %q", s)
	}
}

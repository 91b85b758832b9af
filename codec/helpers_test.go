package codec

import (
	"encoding/hex"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// decodeAny decodes the packet at the start of src with the decoder its type
// selects. It returns a pointer to the packet struct (Type for pings).
func decodeAny(src []byte, v Version) (pkt any, n int, err error) {
	t, _, _, err := PacketLen(src, 0)
	if err != nil {
		return nil, 0, err
	}
	switch t {
	case TypeConnect:
		var p Connect
		n, err = DecodeConnect(src, &p)
		pkt = &p
	case TypeConnack:
		var p Connack
		n, err = DecodeConnack(src, v, &p)
		pkt = &p
	case TypePublish:
		var p Publish
		n, err = DecodePublish(src, v, &p)
		pkt = &p
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp:
		var p Ack
		n, err = DecodeAck(src, v, &p)
		pkt = &p
	case TypeSubscribe:
		var p Subscribe
		n, err = DecodeSubscribe(src, v, &p)
		pkt = &p
	case TypeSuback:
		var p Suback
		n, err = DecodeSuback(src, v, &p)
		pkt = &p
	case TypeUnsubscribe:
		var p Unsubscribe
		n, err = DecodeUnsubscribe(src, v, &p)
		pkt = &p
	case TypeUnsuback:
		var p Unsuback
		n, err = DecodeUnsuback(src, v, &p)
		pkt = &p
	case TypePingreq, TypePingresp:
		var pt Type
		pt, n, err = DecodePing(src)
		pkt = &pt
	case TypeDisconnect:
		var p Disconnect
		n, err = DecodeDisconnect(src, v, &p)
		pkt = &p
	case TypeAuth:
		if v != V5 {
			return nil, 0, ErrNotV5
		}
		var p Auth
		n, err = DecodeAuth(src, &p)
		pkt = &p
	}
	if err != nil {
		return nil, 0, err
	}
	return pkt, n, nil
}

// appendAny encodes pkt (as returned by decodeAny) for version v, and checks
// that the matching SizeXxx agrees with the appended length.
func appendAny(dst []byte, v Version, pkt any) []byte {
	start := len(dst)
	var size int
	switch p := pkt.(type) {
	case *Connect:
		dst, size = AppendConnect(dst, p), SizeConnect(p)
	case *Connack:
		dst, size = AppendConnack(dst, v, p), SizeConnack(v, p)
	case *Publish:
		dst, size = AppendPublish(dst, v, p), SizePublish(v, p)
	case *Ack:
		dst, size = AppendAck(dst, v, p), SizeAck(v, p)
	case *Subscribe:
		dst, size = AppendSubscribe(dst, v, p), SizeSubscribe(v, p)
	case *Suback:
		dst, size = AppendSuback(dst, v, p), SizeSuback(v, p)
	case *Unsubscribe:
		dst, size = AppendUnsubscribe(dst, v, p), SizeUnsubscribe(v, p)
	case *Unsuback:
		dst, size = AppendUnsuback(dst, v, p), SizeUnsuback(v, p)
	case *Type:
		if *p == TypePingreq {
			dst, size = AppendPingreq(dst), SizePingreq()
		} else {
			dst, size = AppendPingresp(dst), SizePingresp()
		}
	case *Disconnect:
		dst, size = AppendDisconnect(dst, v, p), SizeDisconnect(v, p)
	case *Auth:
		dst, size = AppendAuth(dst, p), SizeAuth(p)
	default:
		panic(fmt.Sprintf("appendAny: %T", pkt))
	}
	if got := len(dst) - start; got != size {
		panic(fmt.Sprintf("appendAny %T: Size %d, appended %d", pkt, size, got))
	}
	return dst
}

// unhex turns an annotated hex listing into bytes: "//" starts a comment
// running to the end of the line, and white space is ignored.
func unhex(s string) []byte {
	var sb strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		panic(err)
	}
	return b
}

// dump renders a packet struct canonically: nil and empty slices print the
// same, zero fields are left out, and Properties.Present prints as ids.
func dump(x any) string {
	var sb strings.Builder
	dumpValue(&sb, reflect.ValueOf(x))
	return sb.String()
}

func dumpValue(sb *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Invalid:
		sb.WriteString("nil")
	case reflect.Pointer:
		if v.IsNil() {
			sb.WriteString("nil")
			return
		}
		dumpValue(sb, v.Elem())
	case reflect.Struct:
		sb.WriteString(v.Type().Name() + "{")
		sep := ""
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if f.IsZero() || (f.Kind() == reflect.Slice && f.Len() == 0) {
				continue
			}
			sb.WriteString(sep + v.Type().Field(i).Name + ":")
			sep = " "
			if v.Type().Field(i).Name == "Present" {
				sb.WriteString(presentIDs(f.Uint()))
				continue
			}
			dumpValue(sb, f)
		}
		sb.WriteString("}")
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Type().Elem().Name() == "uint8" {
			fmt.Fprintf(sb, "%q", v.Bytes())
			return
		}
		sb.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				sb.WriteString(" ")
			}
			dumpValue(sb, v.Index(i))
		}
		sb.WriteString("]")
	default:
		fmt.Fprintf(sb, "%v", v.Interface())
	}
}

func presentIDs(p uint64) string {
	var ids []string
	for i := 0; i < 64; i++ {
		if p&(1<<i) != 0 {
			ids = append(ids, fmt.Sprintf("%#02x", i))
		}
	}
	sort.Strings(ids)
	return "{" + strings.Join(ids, ",") + "}"
}

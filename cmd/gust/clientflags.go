package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/loadgen/client"
)

// clientFlags are the connection options gust pub and gust sub share,
// spelt as mosquitto_pub and mosquitto_sub spell them.
type clientFlags struct {
	host, addr     string
	port           int
	version        string
	id, idPrefix   string
	noClean        bool
	keepAlive      uint
	sessionExpiry  string
	user, password string
	will           struct {
		topic, payload string
		qos            uint
		retain         bool
	}
	connectTimeout time.Duration
	quiet          bool
	props          []property // from -D
	tls            tlsFlags
	ws, wss        bool
	wsPath         string
}

// property is one -D COMMAND IDENTIFIER VALUE [VALUE2].
type property struct {
	command, name, value, value2 string
}

// register binds the shared flags to fs.
func (cf *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.host, "host", "localhost", "broker host (mosquitto's -h: -h HOST works when a value follows; -h alone is help)")
	fs.StringVar(&cf.host, "H", "localhost", "broker host (same as --host)")
	fs.IntVar(&cf.port, "p", 0, "broker port (default 1883; 8883 with TLS, 80 with --ws, 443 with --wss)")
	fs.IntVar(&cf.port, "port", 0, "broker port (same as -p)")
	fs.StringVar(&cf.addr, "addr", "", "broker address host:port, or a URL naming the transport: tcp:// or mqtt://, mqtts:// (TLS), ws:// or wss://host:port/path (WebSocket, path /mqtt by default) (instead of -h and -p)")
	cf.tls.bind(fs)
	fs.BoolVar(&cf.ws, "ws", false, "speak MQTT over WebSocket (path --ws-path)")
	fs.BoolVar(&cf.wss, "wss", false, "speak MQTT over WebSocket over TLS (as --ws --tls)")
	fs.StringVar(&cf.wsPath, "ws-path", "", "WebSocket request path (default /mqtt, or the path of a ws:// or wss:// --addr)")
	fs.StringVar(&cf.version, "V", "311", "MQTT version: 311 (mqttv311) or 5 (mqttv5)")
	fs.StringVar(&cf.version, "protocol-version", "311", "MQTT version (same as -V)")
	fs.StringVar(&cf.id, "i", "", "client id (default: a prefix and the process id)")
	fs.StringVar(&cf.id, "id", "", "client id (same as -i)")
	fs.StringVar(&cf.idPrefix, "I", "", "client id prefix, followed by the process id")
	fs.BoolVar(&cf.noClean, "c", false, "persistent session: clean session off (needs -i); in MQTT 5 the session expiry defaults to never with it")
	fs.UintVar(&cf.keepAlive, "k", 60, "keep alive in seconds (0: off)")
	fs.UintVar(&cf.keepAlive, "keepalive", 60, "keep alive in seconds (same as -k)")
	fs.StringVar(&cf.sessionExpiry, "x", "", "MQTT 5 session expiry interval in seconds; -1 or ∞: never")
	fs.StringVar(&cf.user, "u", "", "user name")
	fs.StringVar(&cf.user, "username", "", "user name (same as -u)")
	fs.StringVar(&cf.password, "P", "", "password")
	fs.StringVar(&cf.password, "pw", "", "password (same as -P)")
	fs.StringVar(&cf.will.topic, "will-topic", "", "topic of the will the broker publishes if the connection ends without DISCONNECT")
	fs.StringVar(&cf.will.payload, "will-payload", "", "payload of the will")
	fs.UintVar(&cf.will.qos, "will-qos", 0, "QoS of the will")
	fs.BoolVar(&cf.will.retain, "will-retain", false, "retain the will")
	fs.DurationVar(&cf.connectTimeout, "connect-timeout", 10*time.Second, "bound on the TCP connect and the wait for CONNACK")
	fs.BoolVar(&cf.quiet, "quiet", false, "print no error messages")
}

// mosquittoArgs rewrites the arguments that do not fit the flag package:
// "-h HOST" becomes "--host HOST" ("-h" alone stays help), and each
// "-D COMMAND IDENTIFIER VALUE" (two values for user-property) is taken
// out into the returned properties.
func mosquittoArgs(args []string) ([]string, []property, error) {
	var out []string
	var props []property
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i:]...), props, nil
		case a == "-h" && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-"):
			out = append(out, "--host", args[i+1])
			i++
		case a == "-D" || a == "--property" || a == "-property":
			if i+3 >= len(args) {
				return nil, nil, errors.New("-D needs COMMAND IDENTIFIER VALUE, e.g. -D publish user-property key value")
			}
			p := property{command: args[i+1], name: args[i+2], value: args[i+3]}
			i += 3
			if p.name == "user-property" {
				if i+1 >= len(args) {
					return nil, nil, errors.New("-D COMMAND user-property needs a key and a value")
				}
				p.value2 = args[i+1]
				i++
			}
			props = append(props, p)
		default:
			out = append(out, a)
		}
	}
	return out, props, nil
}

// options builds the connection options; role names the tool in the
// default client id ("pub" or "sub").
func (cf *clientFlags) options(role string) (client.Options, error) {
	o, err := cf.transport()
	if err != nil {
		return o, err
	}
	o.DialTimeout = cf.connectTimeout
	switch strings.ToLower(cf.version) {
	case "311", "3.1.1", "mqttv311", "4":
		o.Version = codec.V311
	case "5", "mqttv5":
		o.Version = codec.V5
	default:
		return o, fmt.Errorf("-V %q: want 311 (or mqttv311) or 5 (or mqttv5)", cf.version)
	}
	o.ClientID = cf.id
	if o.ClientID == "" {
		if cf.noClean {
			return o, errors.New("-c (persistent session) needs a client id: give -i")
		}
		prefix := cf.idPrefix
		if prefix == "" {
			prefix = "gust-" + role + "-"
		}
		o.ClientID = prefix + strconv.Itoa(os.Getpid())
	}
	o.CleanStart = !cf.noClean
	if cf.keepAlive > 65535 {
		return o, fmt.Errorf("-k %d: want 0 to 65535 seconds", cf.keepAlive)
	}
	o.KeepAlive = uint16(cf.keepAlive)
	o.Username, o.Password = cf.user, cf.password
	if cf.password != "" && cf.user == "" {
		return o, errors.New("-P needs -u (a password without a user name)")
	}
	switch cf.sessionExpiry {
	case "":
		if cf.noClean {
			o.SessionExpiry = 0xFFFFFFFF
		}
	case "-1", "∞":
		o.SessionExpiry = 0xFFFFFFFF
	default:
		n, err := strconv.ParseUint(cf.sessionExpiry, 10, 32)
		if err != nil {
			return o, fmt.Errorf("-x %q: want seconds from 0 to 4294967295, or -1 for never", cf.sessionExpiry)
		}
		o.SessionExpiry = uint32(n)
	}
	if cf.will.topic != "" {
		if cf.will.qos > 2 {
			return o, fmt.Errorf("--will-qos %d: want 0, 1 or 2", cf.will.qos)
		}
		o.Will = &client.Message{Topic: cf.will.topic, Payload: []byte(cf.will.payload), QoS: byte(cf.will.qos), Retain: cf.will.retain}
	} else if cf.will.payload != "" || cf.will.retain || cf.will.qos != 0 {
		return o, errors.New("--will-payload, --will-qos and --will-retain need --will-topic")
	}
	if len(cf.props) > 0 && o.Version != codec.V5 {
		return o, errors.New("-D (MQTT 5 properties) needs -V 5")
	}
	return o, nil
}

// transport returns the default options for the broker address and
// transport the flags name: -h and -p, or --addr (whose URL scheme may
// name TLS or WebSocket), with --tls, --cafile, --cert, --key,
// --insecure, --ws, --wss and --ws-path.
func (cf *clientFlags) transport() (client.Options, error) {
	tlsOn := cf.tls.on || cf.tls.caFile != "" || cf.tls.cert != "" || cf.wss
	addr := cf.addr
	if addr == "" {
		port := cf.port
		switch {
		case port != 0:
		case cf.wss:
			port = 443
		case cf.ws:
			port = 80
		case tlsOn:
			port = 8883
		default:
			port = 1883
		}
		addr = net.JoinHostPort(cf.host, strconv.Itoa(port))
	}
	ep, err := client.ParseEndpoint(addr)
	if err != nil {
		return client.Options{}, errors.New(strings.TrimPrefix(err.Error(), "client: "))
	}
	if ep.TLS {
		tlsOn = true
	}
	cf.tls.on = tlsOn
	o := client.DefaultOptions(addr)
	if o.TLS, err = cf.tls.config(ep.HostPort); err != nil {
		return o, err
	}
	if (ep.WebSocket || cf.ws || cf.wss) && o.TLS != nil {
		o.TLS.NextProtos = nil // ALPN mqtt is for MQTT straight over TLS
	}
	o.WebSocket = cf.ws || cf.wss
	if cf.wsPath != "" {
		if !o.WebSocket && !ep.WebSocket {
			return o, errors.New("--ws-path needs --ws, --wss or a ws:// or wss:// --addr")
		}
		if !strings.HasPrefix(cf.wsPath, "/") {
			return o, fmt.Errorf("--ws-path %q: want an absolute path such as /mqtt", cf.wsPath)
		}
		o.WSPath = cf.wsPath
	}
	return o, nil
}

// applyProps puts the -D properties into their packets: CONNECT (o),
// PUBLISH (pub), the will, SUBSCRIBE (sub). A command the tool does not
// send, or an identifier that command cannot carry, is an error.
func applyProps(props []property, o *client.Options, pub, sub *codec.Properties) error {
	for _, p := range props {
		var dst *codec.Properties
		switch p.command {
		case "connect":
			if p.name == "user-property" {
				o.UserProperties = append(o.UserProperties, codec.UserProperty{Key: []byte(p.value), Value: []byte(p.value2)})
				continue
			}
			if p.name == "session-expiry-interval" {
				n, err := strconv.ParseUint(p.value, 10, 32)
				if err != nil {
					return fmt.Errorf("-D connect session-expiry-interval %q: want seconds", p.value)
				}
				o.SessionExpiry = uint32(n)
				continue
			}
		case "publish":
			dst = pub
		case "will":
			if o.Will != nil {
				dst = &o.Will.Props
			} else {
				return errors.New("-D will ...: needs --will-topic")
			}
		case "subscribe":
			dst = sub
		}
		if dst == nil {
			return fmt.Errorf("-D %s %s: not supported here (commands: connect, publish and will for gust pub; connect and subscribe for gust sub)", p.command, p.name)
		}
		if err := setProperty(dst, p, p.command); err != nil {
			return err
		}
	}
	return nil
}

// setProperty sets one message or subscribe property.
func setProperty(dst *codec.Properties, p property, command string) error {
	num := func(bits int) (uint64, error) {
		n, err := strconv.ParseUint(p.value, 10, bits)
		if err != nil {
			return 0, fmt.Errorf("-D %s %s %q: want a whole number", command, p.name, p.value)
		}
		return n, nil
	}
	msgOnly := command == "publish" || command == "will"
	switch {
	case p.name == "user-property":
		dst.User = append(dst.User, codec.UserProperty{Key: []byte(p.value), Value: []byte(p.value2)})
	case p.name == "content-type" && msgOnly:
		dst.ContentType = []byte(p.value)
		dst.Set(codec.PropContentType)
	case p.name == "response-topic" && msgOnly:
		dst.ResponseTopic = []byte(p.value)
		dst.Set(codec.PropResponseTopic)
	case p.name == "correlation-data" && msgOnly:
		dst.CorrelationData = []byte(p.value)
		dst.Set(codec.PropCorrelationData)
	case p.name == "message-expiry-interval" && msgOnly:
		n, err := num(32)
		if err != nil {
			return err
		}
		dst.MessageExpiry = uint32(n)
		dst.Set(codec.PropMessageExpiry)
	case p.name == "payload-format-indicator" && msgOnly:
		n, err := num(8)
		if err != nil || n > 1 {
			return fmt.Errorf("-D %s payload-format-indicator %q: want 0 or 1", command, p.value)
		}
		dst.PayloadFormat = byte(n)
		dst.Set(codec.PropPayloadFormat)
	case p.name == "will-delay-interval" && command == "will":
		n, err := num(32)
		if err != nil {
			return err
		}
		dst.WillDelay = uint32(n)
		dst.Set(codec.PropWillDelay)
	case p.name == "subscription-identifier" && command == "subscribe":
		n, err := num(32)
		if err != nil || n < 1 || n > 268435455 {
			return fmt.Errorf("-D subscribe subscription-identifier %q: want 1 to 268435455", p.value)
		}
		dst.SubscriptionIDs = append(dst.SubscriptionIDs, uint32(n))
	default:
		return fmt.Errorf("-D %s %s: not a property of %s this tool supports", command, p.name, command)
	}
	return nil
}

// clientError prints err for gust pub/sub (unless quiet) and returns the
// exit code: 27 for a subscriber's timeout (mosquitto_sub's), else 1.
func clientError(cmd string, quiet bool, err error) int {
	if !quiet {
		fmt.Fprintf(os.Stderr, "gust %s: %s\n", cmd, strings.TrimPrefix(err.Error(), "client: "))
	}
	if errors.Is(err, client.ErrTimeout) {
		return 27
	}
	return 1
}

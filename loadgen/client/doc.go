// Package client is a small MQTT 3.1.1 and 5.0 client on the project's own
// codec, for command-line tools (gust pub, gust sub) and tests: one TCP
// connection, blocking calls, QoS 0, 1 and 2 both ways, wills, user
// properties and keep alive. It is not built for throughput; the load
// generator (package loadgen) is.
//
// A Client is safe for use from several goroutines. Received messages
// arrive on Messages in the order the broker sent them.
package client

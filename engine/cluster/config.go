package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Config is a node's cluster settings. The zero value is clustering off.
// Each field is a `gust serve` setting of the same name (flag and TOML
// key).
type Config struct {
	// Enabled turns clustering on (cluster). Every other setting needs it.
	Enabled bool `toml:"cluster"`
	// Name is the cluster's name (cluster_name): nodes of one cluster
	// share it, and it names the NATS cluster and the subjects. Letters,
	// digits, '-' and '_'; "" means DefaultName.
	Name string `toml:"cluster_name"`
	// Node is this node's name (cluster_node), unique in the cluster; ""
	// means host-pid (DefaultNode), unique on one machine.
	Node string `toml:"cluster_node"`
	// Listen is the embedded NATS server's route address, host:port
	// (cluster_listen), where the other nodes connect; "" means
	// DefaultListen. Not used with NATSURL.
	Listen string `toml:"cluster_listen"`
	// Routes are the seed nodes' route addresses, comma separated, each
	// host:port or nats-route://host:port (cluster_routes). A node needs
	// one live seed to join; the others are learnt from it.
	Routes string `toml:"cluster_routes"`
	// Token is the secret the nodes' routes authenticate with
	// (cluster_token): a route from a node without it is refused. ""
	// means routes are not authenticated.
	Token string `toml:"cluster_token"`
	// NATSURL is an existing NATS server or cluster to use instead of
	// embedding one (cluster_nats_url): nats://host:port, comma
	// separated for several.
	NATSURL string `toml:"cluster_nats_url"`
	// PendingMessages bounds the messages from other nodes received and
	// not yet handed to the event loops (cluster_pending_messages); past
	// it NATS drops them for this node, counted and logged as a slow
	// node.
	PendingMessages int `toml:"cluster_pending_messages"`
	// PendingBytes bounds the bytes of the messages from other nodes
	// handed to the event loops and not yet routed there
	// (cluster_pending_bytes); past it the receiver waits, so that
	// PendingMessages fills and NATS drops.
	PendingBytes int `toml:"cluster_pending_bytes"`
	// Replicas is the copies JetStream keeps of the session ownership
	// bucket (cluster_replicas); 0 means min(3, nodes) with nodes the
	// JetStream peers when the first node creates it.
	Replicas int `toml:"cluster_replicas"`
	// ClaimQueue bounds the CONNECTs waiting for their claim of the
	// session's ownership (cluster_claim_queue); past it a CONNECT is
	// refused with Server unavailable.
	ClaimQueue int `toml:"cluster_claim_queue"`
}

// Defaults of the settings left empty.
const (
	DefaultName            = "gust"
	DefaultListen          = "127.0.0.1:6222"
	DefaultPendingMessages = 65536
	DefaultPendingBytes    = 64 << 20
	DefaultClaimQueue      = 4096
)

// DefaultNode is the node name used when none is set: host-pid.
func DefaultNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "node"
	}
	return token(h) + "-" + strconv.Itoa(os.Getpid())
}

// Validate checks the settings; an error names the setting and the forms
// it accepts.
func (c *Config) Validate() error {
	if !c.Enabled {
		for _, s := range [...]struct{ name, v string }{
			{"cluster_name", c.Name}, {"cluster_node", c.Node}, {"cluster_listen", c.Listen},
			{"cluster_routes", c.Routes}, {"cluster_nats_url", c.NATSURL}, {"cluster_token", c.Token},
		} {
			if s.v != "" {
				return fmt.Errorf("%s is set but clustering is off: set cluster = true (--cluster)", s.name)
			}
		}
		return nil
	}
	if c.Name != "" && !plainName(c.Name) {
		return fmt.Errorf("cluster_name %q: want letters, digits, '-' and '_' only", c.Name)
	}
	if c.Node != "" && !plainName(c.Node) {
		return fmt.Errorf("cluster_node %q: want letters, digits, '-' and '_' only", c.Node)
	}
	if c.PendingMessages <= 0 {
		return fmt.Errorf("cluster_pending_messages %d: want a whole number, 1 or more", c.PendingMessages)
	}
	if c.PendingBytes <= 0 {
		return fmt.Errorf("cluster_pending_bytes %d: want a whole number, 1 or more", c.PendingBytes)
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("cluster_replicas %d: want 0 (min(3, nodes)) or 1 to 5", c.Replicas)
	}
	if c.ClaimQueue < 0 {
		return fmt.Errorf("cluster_claim_queue %d: want a whole number, 1 or more (0 for %d)", c.ClaimQueue, DefaultClaimQueue)
	}
	if c.NATSURL != "" {
		if c.Listen != "" || c.Routes != "" || c.Token != "" {
			name := "cluster_listen"
			if c.Token != "" {
				name = "cluster_token"
			} else if c.Listen == "" {
				name = "cluster_routes"
			}
			return fmt.Errorf("%s: not used with cluster_nats_url (the external NATS has its own routes)", name)
		}
		for _, u := range splitList(c.NATSURL) {
			if err := checkURL(u, "nats", "tls"); err != nil {
				return fmt.Errorf("cluster_nats_url %q: %v; want nats://host:port, comma separated for several", u, err)
			}
		}
		return nil
	}
	if c.Listen != "" {
		if _, _, err := splitPort(c.Listen); err != nil {
			return fmt.Errorf("cluster_listen %q: %v; want host:port such as 127.0.0.1:6222 or :6222", c.Listen, err)
		}
	}
	if strings.ContainsAny(c.Token, " \t\r\n") {
		return errors.New("cluster_token: white space is not allowed; want one word, the same on every node")
	}
	for _, r := range splitList(c.Routes) {
		if err := checkRoute(r); err != nil {
			return fmt.Errorf("cluster_routes %q: %v; want host:port or nats-route://host:port, comma separated", r, err)
		}
	}
	return nil
}

// withDefaults returns c with its empty settings filled in.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Node == "" {
		c.Node = DefaultNode()
	}
	if c.Listen == "" && c.NATSURL == "" {
		c.Listen = DefaultListen
	}
	if c.ClaimQueue == 0 {
		c.ClaimQueue = DefaultClaimQueue
	}
	return c
}

func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return s != ""
}

// token makes s a plain name, replacing what plainName refuses with '_'.
func token(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !plainName(string(c)) {
			b[i] = '_'
		}
	}
	return string(b)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func splitPort(hp string) (string, int, error) {
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, errors.New("bad port")
	}
	return h, n, nil
}

func checkURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok {
		return fmt.Errorf("scheme %q", u.Scheme)
	}
	if _, n, err := splitPort(u.Host); err != nil || n == 0 {
		return errors.New("want a host and a port")
	}
	return nil
}

// routeURL is a route address as a URL: host:port gets nats-route://.
func routeURL(r string) string {
	if strings.Contains(r, "://") {
		return r
	}
	return "nats-route://" + r
}

func checkRoute(r string) error {
	return checkURL(routeURL(r), "nats-route", "nats")
}

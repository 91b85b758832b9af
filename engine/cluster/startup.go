package cluster

import (
	"net"
	"net/url"
	"sync"
	"time"
)

// seedDial bounds one probe of a seed's route port.
const seedDial = 300 * time.Millisecond

// anySeedListening reports whether another node listens on one of the
// seed routes (this node's own address excluded). A node that finds none
// is the first of its cluster and starts at once, instead of waiting
// routeWait for a route that cannot come. The probes run together.
func (n *Node) anySeedListening() bool {
	ownHost, ownPort, _ := splitPort(n.cfg.Listen)
	var wg sync.WaitGroup
	found := make(chan struct{}, 1)
	for _, r := range splitList(n.cfg.Routes) {
		u, err := url.Parse(routeURL(r))
		if err != nil {
			continue
		}
		addr := u.Host
		host, port, err := splitPort(addr)
		if err != nil || port == ownPort && (host == ownHost || isLocalHost(host) && isLocalHost(ownHost)) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, seedDial)
			if err != nil {
				return
			}
			_ = c.Close()
			select {
			case found <- struct{}{}:
			default:
			}
		}()
	}
	wg.Wait()
	return len(found) > 0
}

// isLocalHost reports whether host names this machine: empty, a loopback
// or unspecified address, or localhost.
func isLocalHost(host string) bool {
	if host == "" || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// routeUser is the user name of the routes' authentication; the token is
// its password.
const routeUser = "gust"

// withToken returns the route URLs with the token as their credentials.
func withToken(routes []string, token string) []string {
	out := make([]string, 0, len(routes))
	for _, r := range routes {
		u, err := url.Parse(r)
		if err != nil {
			out = append(out, r) // refused by startServer, naming the setting
			continue
		}
		u.User = url.UserPassword(routeUser, token)
		out = append(out, u.String())
	}
	return out
}

package engine

import (
	"maps"
	"runtime"
	"sync/atomic"

	"github.com/gust-mqtt/gust/engine/network"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
)

// The login of a plain CONNECT (user name and password, no MQTT 5
// Authentication Method; enhanced authentication is in auth.go).
//
// A CachedAuthenticator (auth.Users, from Config.PasswordFile) answers a
// repeated correct login on the client's loop, with one HMAC. Any other
// login, a wrong password included, needs the full check (PBKDF2, a
// millisecond or more), which must not stall the loop and every other
// connection on it: the CONNECT is parked and the check handed to the
// broker's auth.Pool (Config.AuthWorkers goroutines, Config.AuthQueue
// waiting at most). Parked, the client is in stateAuthCheck: its CONNECT
// and anything sent after it stay in the connection's input buffer, unread, up to
// checkMaxBuffered bytes. The verdict comes back to the client's loop with
// EventLoop.Execute; checkDone then reads the CONNECT again, which finds
// the verdict in clientExt.check and goes on to CONNACK. A client that
// closed (or timed out) meanwhile has cancelled its check: a check not
// started is skipped, and a verdict that arrives finds the client no
// longer waiting for that check and is dropped. A CONNECT that finds the
// queue full is refused at once.

// checkMaxBuffered bounds the bytes a client whose CONNECT waits for its
// check may send meanwhile; past it the connection is closed. MQTT lets a
// client send packets before its CONNACK, so a little is normal.
const checkMaxBuffered = throttleMaxBuffered

// authStats are the counters of the login path. Safe from any goroutine.
type authStats struct {
	checks    atomic.Uint64 // full checks run by the pool
	queueFull atomic.Uint64 // CONNECTs refused: check queue full
	overflow  atomic.Uint64 // parked clients closed past checkMaxBuffered

	logQueue, logOverflow limitLog // limits.go
}

// authWorkers is the number of pool workers for Config.AuthWorkers n: by
// default half the CPUs, so that a flood of wrong passwords leaves the
// event loops the other half (with every CPU checking passwords, a loop
// waits for the Go scheduler to preempt a check before it runs).
func authWorkers(n int) int {
	if n > 0 {
		return n
	}
	return max(1, runtime.GOMAXPROCS(0)/2)
}

// startAuthPool starts the pool of full checks if the Authenticator has a
// fast path to put in front of it (auth.CachedAuthenticator); without one,
// Authenticate runs on the loops as Authenticator documents. Called by
// Start before the loops run.
func (b *Broker) startAuthPool() {
	if a, ok := b.cfg.Authenticator.(auth.CachedAuthenticator); ok {
		b.authPool = auth.NewPool(a, authWorkers(b.cfg.AuthWorkers), b.cfg.AuthQueue)
	}
}

// connectInfo is the Authenticator's and AuthMethod's view of p.
func (c *client) connectInfo(p *codec.Connect) ConnectInfo {
	return ConnectInfo{
		ClientID: p.ClientID, Username: p.Username, Password: p.Password,
		UsernameFlag: p.UsernameFlag, PasswordFlag: p.PasswordFlag,
		ProtocolVersion: byte(p.Version), RemoteAddr: c.nc.RemoteAddr(),
	}
}

// authenticate applies AllowAnonymous and the Authenticator to the plain
// CONNECT p: nil accepts it, an error refuses it (refuseAuth). With the
// verdict not at hand it parks c (stateAuthCheck) and returns nil; the
// caller then leaves the CONNECT in the connection's input buffer. Loop-only.
func (c *client) authenticate(p *codec.Connect) error {
	b := c.l.b
	if c.peerIdentity() != "" {
		return nil // a verified client certificate stands for the password
	}
	if !b.cfg.AllowAnonymous && !p.UsernameFlag {
		return ErrNotAuthorized
	}
	if b.cfg.Authenticator == nil {
		return nil
	}
	if c.ext != nil && c.ext.check != nil {
		return c.ext.check.Err() // this CONNECT's check answered (checkDone)
	}
	info := c.connectInfo(p)
	a, ok := b.cfg.Authenticator.(auth.CachedAuthenticator)
	if !ok || b.authPool == nil {
		return b.cfg.Authenticator.Authenticate(&info)
	}
	if known, err := a.AuthenticateCached(&info); known {
		return err
	}
	return c.startCheck(&info)
}

// startCheck hands the full check of info to the pool and parks c until
// checkDone, or refuses c with errAuthBusy if the queue is full. Loop-only.
func (c *client) startCheck(info *ConnectInfo) error {
	l, b, remote := c.l, c.l.b, info.RemoteAddr
	ck := auth.NewCheck(info, func(ck *auth.Check) { // on a pool worker
		b.auth.checks.Add(1)
		err := l.nl.Execute(func() { c.checkDone(ck) })
		if err != nil && !b.closing.Load() {
			b.log.Error("login check verdict not delivered to its loop", "remote", remote, "err", err)
		}
	})
	if !b.authPool.Submit(ck) {
		b.auth.queueFull.Add(1)
		if ok, hits := b.auth.logQueue.allow(b.now(), 1); ok {
			b.log.Warn("login refused: password check queue full (auth_queue)", "remote", c.nc.RemoteAddr(),
				"auth_queue", b.cfg.AuthQueue, "auth_workers", authWorkers(b.cfg.AuthWorkers), "hits", hits)
		}
		return errAuthBusy
	}
	c.x().check = ck
	c.state = stateAuthCheck
	return nil
}

// checkDone takes the verdict of c's check on c's loop: unless c closed or
// timed out meanwhile, it reads c's CONNECT again, which now finds the
// verdict. Loop-only.
func (c *client) checkDone(ck *auth.Check) {
	if c.state != stateAuthCheck || c.ext == nil || c.ext.check != ck {
		return // closed meanwhile: nobody to answer
	}
	c.state = stateNew
	if c.onTraffic() == network.Close {
		c.closeNow(closeProtocol) // a refusal has set closeRefused
	}
	c.l.finish()
}

// whileChecking is readPackets for a client parked on its check: what it
// sends stays in the connection's input buffer, up to checkMaxBuffered bytes; past that it
// is closed. Loop-only.
func (c *client) whileChecking() network.Action {
	n := c.nc.InboundBuffered()
	if n <= checkMaxBuffered {
		return network.None
	}
	b := c.l.b
	b.auth.overflow.Add(1)
	if ok, hits := b.auth.logOverflow.allow(b.now(), 1); ok {
		b.log.Warn("client closed: sent too much before its CONNACK while its password was checked",
			"remote", c.nc.RemoteAddr(), "buffered", n, "limit", checkMaxBuffered, "hits", hits)
	}
	c.reason = closeProtocol
	return network.Close
}

// cancelCheck tells the pool that nobody waits for c's check any more.
// Loop-only; called when c closes.
func (c *client) cancelCheck() {
	if c.ext != nil && c.ext.check != nil {
		c.ext.check.Cancel()
	}
}

// loadPasswordFile reads PasswordFile into the Authenticator and offers
// SCRAM-SHA-256 over it. It copies AuthMethods rather than change the
// caller's map.
func (c *Config) loadPasswordFile() error {
	u, err := auth.LoadUsers(c.PasswordFile)
	if err != nil {
		return err
	}
	c.Authenticator = u
	if _, ok := c.AuthMethods[auth.SCRAMSHA256]; !ok {
		m := make(map[string]AuthMethod, len(c.AuthMethods)+1)
		maps.Copy(m, c.AuthMethods)
		m[auth.SCRAMSHA256] = auth.NewSCRAM(u)
		c.AuthMethods = m
	}
	return nil
}

// ReloadPasswordFile reads Config.PasswordFile again and, if it parses,
// swaps it in atomically for plain and SCRAM logins (connected clients
// stay connected; cached logins are kept only for users whose entry did
// not change). On error, which names the file and line and wraps
// auth.ErrUsersFile, the old users stay in force. Both outcomes are
// logged. Without a password file it does nothing. Safe from any
// goroutine.
func (b *Broker) ReloadPasswordFile() error {
	cur, ok := b.cfg.Authenticator.(*auth.Users)
	if b.cfg.PasswordFile == "" || !ok {
		return nil
	}
	u, err := auth.LoadUsers(b.cfg.PasswordFile)
	if err != nil {
		b.log.Error("password file not reloaded, keeping the previous users", "file", b.cfg.PasswordFile, "err", err)
		return err
	}
	cur.Replace(u)
	if cur.Len() == 0 {
		b.log.Warn("password file reloaded with no users: every login with a user name is refused", "file", b.cfg.PasswordFile)
		return nil
	}
	b.log.Info("password file reloaded", "file", b.cfg.PasswordFile, "users", cur.Len())
	return nil
}

// peerIdentity is the user name the connection's transport authenticated
// (a client certificate on a listener with use_identity_as_username), ""
// if none. Loop-only.
func (c *client) peerIdentity() string {
	if id, ok := c.nc.(network.Identified); ok {
		return id.PeerIdentity()
	}
	return ""
}

package engine

import (
	"log/slog"

	"golang.org/x/sys/unix"
)

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit, as servers
// do at start-up (the Go runtime does so when the process starts; a limit
// lowered since is raised here), and returns the soft limit in force. It returns 0 if the limit cannot be
// read or is unlimited.
func raiseNoFile() uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		raised := unix.Rlimit{Cur: lim.Max, Max: lim.Max}
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &raised) == nil {
			lim.Cur = lim.Max
		}
	}
	if uint64(lim.Cur) == uint64(unix.RLIM_INFINITY) {
		return 0
	}
	return uint64(lim.Cur) // int64 on FreeBSD
}

// reservedFDs is the number of descriptors kept out of the derived
// max_connections for the broker's own use: per event loop an epoll
// descriptor, an eventfd and the two ends of its doorbell; the listeners,
// the reserved descriptor of the accept back-off, Go's own poller,
// standard streams, log and password files, and room for data files: at
// least 64, or 2% of the limit if more.
func reservedFDs(limit uint64, loops int) uint64 {
	return max(64, limit/50) + 4*uint64(loops)
}

// connectionCap returns the number of open connections the acceptor
// admits for the configured max_connections (0: derive it from the
// descriptor limit; -1: no cap) with loops event loops, and logs what it
// chose and why. 0 means no cap.
func connectionCap(configured, loops int, log *slog.Logger) int64 {
	limit := raiseNoFile()
	var ceiling uint64
	if limit > 0 {
		reserve := reservedFDs(limit, loops)
		if limit > reserve {
			ceiling = limit - reserve
		} else {
			ceiling = 1
		}
	}
	switch {
	case configured < 0:
		log.Info("max_connections: no cap; connections past the descriptor limit are refused by the accept back-off",
			"rlimit_nofile", limit)
		return 0
	case configured == 0 && ceiling == 0:
		log.Info("max_connections: no cap (the descriptor limit is unlimited or unknown)")
		return 0
	case configured == 0:
		log.Info("max_connections derived from the descriptor limit",
			"max_connections", ceiling, "rlimit_nofile", limit, "reserved", limit-ceiling)
		return int64(ceiling)
	case ceiling > 0 && uint64(configured) > ceiling:
		log.Warn("max_connections is above what the descriptor limit leaves for connections; past it new connections are refused by the accept back-off",
			"max_connections", configured, "rlimit_nofile", limit, "derived", ceiling)
	default:
		log.Info("max_connections", "max_connections", configured, "rlimit_nofile", limit)
	}
	return int64(configured)
}

package turn

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/pion/logging"
)

// RefusalReason says why an allocation was refused; it is meant to become a
// metric label, so the set is small and fixed.
type RefusalReason string

// The reasons an allocation is refused.
const (
	// RefusedBadCredential: malformed username or wrong password.
	RefusedBadCredential RefusalReason = "bad_credential"
	// RefusedExpired: a well-signed credential past its expiry.
	RefusedExpired RefusalReason = "expired"
	// RefusedNotAllowed: a valid credential whose user Config.Allowed refused.
	RefusedNotAllowed RefusalReason = "not_allowed"
	// RefusedUserCap: the user already holds MaxAllocationsPerUser.
	RefusedUserCap RefusalReason = "user_cap"
	// RefusedIPCap: the client network already holds MaxAllocationsPerIP.
	RefusedIPCap RefusalReason = "ip_cap"
)

// allRefusalReasons is every RefusalReason, so that Stats reports each one,
// zeros included, and a metric exports all its label values from the start.
var allRefusalReasons = [...]RefusalReason{
	RefusedBadCredential, RefusedExpired, RefusedNotAllowed, RefusedUserCap, RefusedIPCap,
}

// Stats is a snapshot of the server's counters. Each field is read
// atomically on its own; the snapshot as a whole is not one instant.
type Stats struct {
	// Allocations is the number of live relay allocations.
	Allocations int64
	// AllocationsRefused counts refused allocate requests by reason; every
	// RefusalReason constant is present.
	AllocationsRefused map[RefusalReason]uint64
	// PeersRefused counts permissions and channel binds refused by the
	// peer filter.
	PeersRefused uint64
	// RelayedBytesIn counts payload bytes that arrived from peers at relay
	// sockets (before pion drops those from peers without a permission).
	RelayedBytesIn uint64
	// RelayedBytesOut counts payload bytes relay sockets sent to peers.
	RelayedBytesOut uint64
}

// counters are bumped on the relay path, so they are atomics, not a lock.
type counters struct {
	allocations  atomic.Int64
	refused      map[RefusalReason]*atomic.Uint64 // keys fixed at creation: safe to read concurrently
	peersRefused atomic.Uint64
	bytesIn      atomic.Uint64
	bytesOut     atomic.Uint64
}

func newCounters() *counters {
	c := &counters{refused: make(map[RefusalReason]*atomic.Uint64, len(allRefusalReasons))}
	for _, reason := range allRefusalReasons {
		c.refused[reason] = new(atomic.Uint64)
	}

	return c
}

func (c *counters) refuse(reason RefusalReason) {
	if counter, ok := c.refused[reason]; ok {
		counter.Add(1)
	}
}

func (c *counters) snapshot() Stats {
	stats := Stats{
		Allocations:        c.allocations.Load(),
		AllocationsRefused: make(map[RefusalReason]uint64, len(c.refused)),
		PeersRefused:       c.peersRefused.Load(),
		RelayedBytesIn:     c.bytesIn.Load(),
		RelayedBytesOut:    c.bytesOut.Load(),
	}
	for reason, counter := range c.refused {
		stats.AllocationsRefused[reason] = counter.Load()
	}

	return stats
}

// pionLogLevelTrace is where pion's per-packet Debug and Trace lines go: below
// slog's Debug, so turning on the app's debug logging does not log every
// relayed datagram.
const pionLogLevelTrace = slog.LevelDebug - 4

// slogLoggerFactory routes pion's leveled logs into the app's slog logger.
type slogLoggerFactory struct{ log *slog.Logger }

func (f slogLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveledLogger{log: f.log.With("pion", scope)}
}

// slogLeveledLogger maps pion's levels one step down, because pion logs
// routine client behaviour (a refused permission, a client that went away)
// at Info and Error.
type slogLeveledLogger struct{ log *slog.Logger }

func (l slogLeveledLogger) emit(level slog.Level, format string, args ...any) {
	// Checked first so that the Sprintf of a disabled per-packet line costs nothing.
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
}

func (l slogLeveledLogger) Trace(msg string) { l.emit(pionLogLevelTrace, "%s", msg) }
func (l slogLeveledLogger) Debug(msg string) { l.emit(pionLogLevelTrace, "%s", msg) }
func (l slogLeveledLogger) Info(msg string)  { l.emit(slog.LevelDebug, "%s", msg) }
func (l slogLeveledLogger) Warn(msg string)  { l.emit(slog.LevelInfo, "%s", msg) }
func (l slogLeveledLogger) Error(msg string) { l.emit(slog.LevelWarn, "%s", msg) }

func (l slogLeveledLogger) Tracef(format string, args ...any) {
	l.emit(pionLogLevelTrace, format, args...)
}
func (l slogLeveledLogger) Debugf(format string, args ...any) {
	l.emit(pionLogLevelTrace, format, args...)
}
func (l slogLeveledLogger) Infof(format string, args ...any) {
	l.emit(slog.LevelDebug, format, args...)
}
func (l slogLeveledLogger) Warnf(format string, args ...any) { l.emit(slog.LevelInfo, format, args...) }
func (l slogLeveledLogger) Errorf(format string, args ...any) {
	l.emit(slog.LevelWarn, format, args...)
}

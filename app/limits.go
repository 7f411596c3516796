package app

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"meet/protocol"
)

// Defaults of the abuse limits (Config, and the flags of cmd/meet).
const (
	DefaultMaxParticipants = 100
	DefaultMaxRooms        = 1000
	DefaultRoomsPerMinute  = 20
	DefaultJoinsPerMinute  = 120
)

// socketReadLimit is the WebSocket's hard read limit. It is above the
// decoder's limit (protocol.MaxFrameBytes) so that a frame somewhat too large
// gets a clear error and the connection stays; only a frame beyond this
// closes the socket (1009, message too big) without being read.
const socketReadLimit = 4 * protocol.MaxFrameBytes

var (
	errRoomFull = newError(http.StatusConflict, protocol.CodeRoomFull,
		"This room is full. Try again when someone leaves.")
	errServerFull = newError(http.StatusServiceUnavailable, protocol.CodeServerFull,
		"The server is hosting as many meetings as it can. Try again later.")
)

// limitOrDefault maps a Config limit to what the server enforces: zero
// takes the default, a negative value turns the limit off (0 is returned).
func limitOrDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// ipLimiter is a token bucket per client address: each address may do
// something perMinute times a minute, in bursts of up to perMinute. Idle
// addresses are forgotten, so the map holds only recent clients.
type ipLimiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu        sync.Mutex
	clients   map[string]*ipBucket
	overflow  *rate.Limiter // shared by new addresses once the map is full
	lastSweep time.Time
}

type ipBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// maxTrackedClients bounds the map when many addresses are active at
// once (a botnet, or one IPv6 host walking its /64s is already folded):
// beyond it, new addresses share one bucket and so are limited together.
const maxTrackedClients = 1 << 16

// newIPLimiter returns nil for perMinute <= 0: no limit.
func newIPLimiter(perMinute int, now func() time.Time) *ipLimiter {
	if perMinute <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	limit := rate.Limit(float64(perMinute) / 60)
	return &ipLimiter{
		limit:    limit,
		burst:    perMinute,
		now:      now,
		clients:  map[string]*ipBucket{},
		overflow: rate.NewLimiter(limit, perMinute),
	}
}

// idleAfter is how long an address must stay away for its bucket to be
// full again; forgetting it then changes nothing.
func (l *ipLimiter) idleAfter() time.Duration {
	return time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
}

// allow takes a token for ip. When there is none it returns false and how
// long until there will be one.
func (l *ipLimiter) allow(ip string) (bool, time.Duration) {
	now := l.now()
	lim := l.bucket(clientKey(ip), now)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, l.wait(lim, now)
}

// wait is how long until lim has a token again.
func (l *ipLimiter) wait(lim *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - lim.TokensAt(now)
	return time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// bucket finds (or makes) the bucket of key.
func (l *ipLimiter) bucket(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) >= l.idleAfter() {
		l.sweepLocked(now)
	}
	b := l.clients[key]
	switch {
	case b != nil:
		b.seen = now
		return b.lim
	case len(l.clients) < maxTrackedClients:
		lim := rate.NewLimiter(l.limit, l.burst)
		l.clients[key] = &ipBucket{lim: lim, seen: now}
		return lim
	default:
		return l.overflow
	}
}

// exhausted reports, without taking a token, whether key has none left,
// and how long until it will.
func (l *ipLimiter) exhausted(key string) (bool, time.Duration) {
	now := l.now()
	lim := l.bucket(key, now)
	if lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, l.wait(lim, now)
}

// spend takes a token of key, if one is left.
func (l *ipLimiter) spend(key string) {
	now := l.now()
	l.bucket(key, now).AllowN(now, 1)
}

// sweepLocked forgets the addresses idle long enough to have a full bucket.
func (l *ipLimiter) sweepLocked(now time.Time) {
	idle := l.idleAfter()
	for key, b := range l.clients {
		if now.Sub(b.seen) >= idle {
			delete(l.clients, key)
		}
	}
	l.lastSweep = now
}

// tracked is the number of addresses remembered now.
func (l *ipLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// clientKey is what an address is limited by: an IPv4 address, or the /64
// of an IPv6 address, since one IPv6 host usually holds a whole /64.
func clientKey(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return ip
	}
	if v4 := parsed.To4(); v4 != nil {
		return v4.String()
	}
	return parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// checkTrustedProxies accepts what gin's SetTrustedProxies accepts: IP
// addresses and CIDR ranges.
func checkTrustedProxies(proxies []string) error {
	for _, p := range proxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR range", p)
			}
		}
	}
	return nil
}

// rateLimited is the refusal for an address that must wait retry.
func rateLimited(what string, retry time.Duration) *Error {
	secs := int(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return newError(http.StatusTooManyRequests, protocol.CodeRateLimited,
		fmt.Sprintf("Too many %s from your address. Try again in %d s.", what, secs))
}

// allowRoomCreation applies the per-address limit on POST /api/rooms and
// the server's room limit: a server at -max-rooms live rooms refuses new
// rooms too, since nobody could meet in them now.
func (s *Server) allowRoomCreation(c *gin.Context) error {
	if s.createLimit != nil {
		if ok, retry := s.createLimit.allow(c.ClientIP()); !ok {
			c.Header("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
			return rateLimited("new rooms", retry)
		}
	}
	if s.hub.Full() {
		c.Header("Retry-After", "60")
		return errServerFull
	}
	return nil
}

// allowJoin applies the per-address limit on WebSocket joins.
func (s *Server) allowJoin(ip string) *Error {
	if s.joinLimit == nil {
		return nil
	}
	if ok, retry := s.joinLimit.allow(ip); !ok {
		return rateLimited("joins", retry)
	}
	return nil
}

// joinWouldNotFit refuses early a join that the room or the server has no
// room for, before the room is marked live; room.Join has the exact
// check.
func (s *Server) joinWouldNotFit(roomID string) *Error {
	live, ok := s.hub.Room(roomID)
	if !ok {
		if s.hub.Full() {
			return errServerFull
		}
		return nil
	}
	if n, _ := live.Counts(); s.maxParticipants > 0 && n >= s.maxParticipants {
		return errRoomFull
	}
	return nil
}

// closeCodeFor is the close code that follows a refused join.
func closeCodeFor(err *Error) int {
	switch err {
	case errRoomFull:
		return protocol.CloseRoomFull
	case errServerFull:
		return protocol.CloseServerFull
	case errRoomEnded:
		return protocol.CloseRoomEnded
	}
	switch err.Code {
	case protocol.CodeRateLimited:
		return protocol.CloseRateLimited
	case protocol.CodeInternal:
		// A fault of ours, maybe passing: the browser retries on 1011,
		// where 4004 would make it give up.
		return protocol.CloseInternal
	}
	return protocol.CloseRoomGone
}
